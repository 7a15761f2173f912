"""The loader's exit codes and run outcomes: what Cloud Run sees (non-zero = failed task, retried up
to the job's maxRetries) and what the summary line says (``outcome``, ``exit_code``)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNASSIGNED = 3


class Outcome(enum.StrEnum):
    COMPLETED = "completed"  # read up to the end offsets seen at start (or nothing was left to read)
    STOPPED = "stopped"  # SIGTERM/SIGINT: stopped cleanly, committed what was durable
    FENCED = "fenced"  # a newer task with the same group.instance.id took this task's place
    FAILED = "failed"  # upload failure, unknown topic, fatal Kafka error: committed what was durable
    UNASSIGNED = "unassigned"  # no partition while the group had messages left and nobody loaded them


EXIT_CODES: dict[Outcome, ExitCode] = {
    Outcome.COMPLETED: ExitCode.OK,
    Outcome.STOPPED: ExitCode.OK,
    # Not a failure of the job: the task that fenced this one (same job, same task index) carries on
    # with the same partitions. A non-zero exit would make Cloud Run retry this task, and the retry
    # would fence the newer one in turn: two executions taking the partitions from each other until
    # their retries run out.
    Outcome.FENCED: ExitCode.OK,
    Outcome.FAILED: ExitCode.FAILED,
    Outcome.UNASSIGNED: ExitCode.UNASSIGNED,
}

HELP = """exit codes:
  0  done: read up to the end offsets seen at start, or stopped cleanly by SIGTERM/SIGINT, or
     superseded by a newer task with the same group instance id (see "outcome" in the summary line)
  1  the run failed (an upload failed after retries, unknown topic, fatal Kafka error); what was
     durable is committed, the next run goes on from there
  2  invalid settings or usage (the message names the variable and the flag), or no Google
     credentials (the message says how to provide them)
  3  no partition was assigned to this task for LOADER_IDLE_EXIT_SECONDS while the group still had
     messages to load and no member made progress (partitions held by a member that is not loading
     them); Cloud Run retries the task"""
