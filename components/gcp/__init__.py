"""The GCP half: project services, the history bucket, service accounts, Kafka credentials, images,
Cloud Run jobs and their Cloud Scheduler triggers. Pure builders live in ``builders/``."""
