from app.batch_job.cli import main

raise SystemExit(main())
