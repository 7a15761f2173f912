"""--wait: poll a day's jobs until each has ended, printing progress when it changes."""

from __future__ import annotations

from collections.abc import Sequence

from app.batch_job.context import Context
from app.batch_job.vertex import DONE_STATES, FAILED_STATES, TERMINAL_STATES, JobView


def wait_for_jobs(ctx: Context, jobs: Sequence[JobView]) -> bool:
    """True when every job succeeded (fully or partially); False if any failed, was cancelled or expired.

    PARTIALLY_SUCCEEDED counts as success: the lines Vertex could not answer are in the output with their
    status, and collect keeps each of them with its reason; failing the run would only make the
    scheduler retry a day that already has its predictions.
    """
    pending = {job.name: job for job in jobs}
    last_seen: dict[str, str] = {}
    final: dict[str, JobView] = {}
    while pending:
        for name in list(pending):
            job = ctx.vertex.get(name)
            line = f"{job.display_name}: {job.state} {job.progress()}".rstrip()
            if last_seen.get(name) != line:
                ctx.say(line)
                last_seen[name] = line
            if job.state in TERMINAL_STATES:
                final[name] = job
                del pending[name]
        if pending:
            ctx.sleep(ctx.settings.poll_seconds)
    ok = True
    for job in final.values():
        if job.state in FAILED_STATES:
            ok = False
            ctx.say(f"{job.display_name} ended {job.state}: {job.error or 'no error message'}")
        elif job.state == "JOB_STATE_PARTIALLY_SUCCEEDED":
            ctx.say(
                f"{job.display_name} partially succeeded: {job.progress()}; collect keeps the failed lines"
            )
        else:
            assert job.state in DONE_STATES
    return ok
