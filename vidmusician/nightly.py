"""One nightly run per night, whatever the retries: the submitter behind cluster/kuberay/cronjob-nightly.yaml.

A plain `ray job submit` is not idempotent: an evicted submit pod retried by its Kubernetes Job submits a
second run into the same night's output while the first still runs, and the Job's deadline stops the
pod, not the Ray job. Here the night names the Ray job: its submission id is `<prefix>-<night>`, and Ray
refuses a second job with that id, so two submitters racing for one night get one run. A submitter that
finds the night's run
- running or pending: follows it (its logs and its end) instead of submitting;
- succeeded: exits 0 at once;
- failed: submits the next attempt, `<prefix>-<night>-r<n>` (the soundtrack job resumes where the last
  one stopped), up to `max_attempts` in all;
- stopped (by the deadline or by hand): submits nothing.
The deadline counts from the night's first submission, so a retried submitter does not extend it, and
it stops the Ray job itself (`stop_job`), not only this process."""
from __future__ import annotations

import datetime as dt
import shlex
import threading
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

import requests
import tenacity
from ray.job_submission import JobStatus, JobSubmissionClient

T = TypeVar("T")

NIGHT_FIELD = "{night}"   # replaced by the night (YYYY-MM-DD) in the entrypoint
ATTEMPT_SEP = "-r"
MS_PER_S = 1000
ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING)


@dataclass(frozen=True)
class NightPlan:
    night: dt.date
    entrypoint: str              # with {night} already replaced
    runtime_env: dict
    prefix: str = "vidmusician-nightly"
    deadline_s: float = 72000.0  # from the night's first submission, retries included
    max_attempts: int = 3
    poll_s: float = 10.0
    # A job server that does not answer (a restarting head, a network blip) is asked again for this
    # long before the submitter gives up: the Ray job runs on meanwhile, and the deadline still holds.
    unreachable_s: float = 900.0
    log_drain_s: float = 30.0    # after the job's end, time for its last log lines to arrive

    @property
    def base_id(self) -> str:
        return f"{self.prefix}-{self.night.isoformat()}"

    def attempt_id(self, attempt: int) -> str:
        return self.base_id if attempt == 0 else f"{self.base_id}{ATTEMPT_SEP}{attempt}"


@dataclass
class NightOutcome:
    status: str              # SUCCEEDED, FAILED, STOPPED, DEADLINE or GAVE_UP
    submission_id: str | None

    @property
    def ok(self) -> bool:
        return self.status == JobStatus.SUCCEEDED


def night_entrypoint(args: list[str], night: dt.date) -> str:
    return shlex.join(a.replace(NIGHT_FIELD, night.isoformat()) for a in args)


# What a job server that does not answer raises (Ray's client raises the builtin ConnectionError).
UNANSWERED = (requests.ConnectionError, requests.Timeout, ConnectionError)


def answered(call: Callable[[], T], plan: NightPlan) -> T:
    """`call()` to the job server, asked again while it does not answer (up to plan.unreachable_s)."""
    retryer = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(UNANSWERED),
        stop=tenacity.stop_after_delay(plan.unreachable_s), wait=tenacity.wait_fixed(plan.poll_s), reraise=True)
    return retryer(call)


def attempts(client: JobSubmissionClient, plan: NightPlan) -> list:
    """The night's jobs, first attempt first."""
    ids = {plan.attempt_id(n): n for n in range(plan.max_attempts)}
    found = [j for j in answered(client.list_jobs, plan) if j.submission_id in ids]
    return sorted(found, key=lambda j: ids[j.submission_id])


def attempt_number(plan: NightPlan, submission_id: str) -> int:
    return 0 if submission_id == plan.base_id else int(submission_id.rsplit(ATTEMPT_SEP, 1)[1])


def deadline_at(first, plan: NightPlan) -> float | None:
    """When the night's run must stop: deadline_s after its first attempt was submitted (Ray sets
    start_time at submission); None before the first submission."""
    return None if first is None or first.start_time is None else first.start_time / MS_PER_S + plan.deadline_s


class LogTail:
    """Prints a job's logs as they come (the SDK's async tail, on a thread of its own)."""

    def __init__(self, client: JobSubmissionClient, submission_id: str, out: Callable[[str], None]):
        import asyncio

        async def tail():
            try:
                async for lines in client.tail_job_logs(submission_id):
                    out(lines.rstrip("\n"))
            except Exception as err:  # the logs are a courtesy: the job's status is what counts
                out(f"nightly: the log stream of {submission_id} ended: {err}")

        self.thread = threading.Thread(target=lambda: asyncio.run(tail()), daemon=True)
        self.thread.start()

    def drain(self, timeout_s: float) -> None:
        """Waits for the last lines (the stream ends with the job) before the process exits."""
        self.thread.join(timeout_s)


def follow(client: JobSubmissionClient, plan: NightPlan, submission_id: str, stop_at: float,
           log: Callable[[str], None]) -> str:
    """Waits for the job's end; stops it once the clock passes `stop_at` (the night's deadline, epoch
    seconds). Returns its final status (DEADLINE when this stopped it)."""
    tail = LogTail(client, submission_id, log)

    def status():
        return answered(lambda: client.get_job_status(submission_id), plan)

    while True:
        now = status()
        if now.is_terminal():
            tail.drain(plan.log_drain_s)
            return str(now)
        if time.time() > stop_at:
            log(f"nightly: {submission_id} past the night's deadline ({plan.deadline_s:.0f} s): stopping it")
            answered(lambda: client.stop_job(submission_id), plan)
            while not status().is_terminal():
                time.sleep(plan.poll_s)
            tail.drain(plan.log_drain_s)
            return "DEADLINE"
        time.sleep(plan.poll_s)


def run_night(client: JobSubmissionClient, plan: NightPlan, log: Callable[[str], None] = print) -> NightOutcome:
    while True:
        jobs = attempts(client, plan)
        latest = jobs[-1] if jobs else None
        deadline = deadline_at(jobs[0] if jobs else None, plan)
        if latest is not None and latest.status in ACTIVE:
            log(f"nightly: {latest.submission_id} is {latest.status}: following it")
            status = follow(client, plan, latest.submission_id, deadline or time.time() + plan.deadline_s, log)
            log(f"nightly: {latest.submission_id} ended {status}")
            if status == JobStatus.FAILED and time.time() <= (deadline or float("inf")):
                continue  # the next attempt resumes it
            return NightOutcome(status, latest.submission_id)
        if latest is not None and latest.status == JobStatus.SUCCEEDED:
            log(f"nightly: {latest.submission_id} already succeeded: nothing to do")
            return NightOutcome(str(latest.status), latest.submission_id)
        if latest is not None and latest.status == JobStatus.STOPPED:
            log(f"nightly: {latest.submission_id} was stopped (deadline or by hand): not resubmitting")
            return NightOutcome(str(latest.status), latest.submission_id)
        if deadline is not None and time.time() > deadline:
            log(f"nightly: the night's deadline has passed since {jobs[0].submission_id}: not resubmitting")
            return NightOutcome("DEADLINE", latest.submission_id)
        if latest is not None and attempt_number(plan, latest.submission_id) + 1 >= plan.max_attempts:
            log(f"nightly: {latest.submission_id} failed, the last of {plan.max_attempts} attempts: giving up on "
                f"{plan.night}")
            return NightOutcome("GAVE_UP", latest.submission_id)
        # After the highest attempt seen (an attempt deleted by hand leaves a gap, never a reused id).
        submission_id = plan.attempt_id(attempt_number(plan, latest.submission_id) + 1 if latest else 0)
        try:
            answered(lambda: client.submit_job(entrypoint=plan.entrypoint, submission_id=submission_id,
                                               runtime_env=plan.runtime_env,
                                               metadata={"night": plan.night.isoformat()}), plan)
        except RuntimeError as err:
            if "already exists" not in str(err):
                raise
            log(f"nightly: {submission_id} was submitted by another submitter meanwhile")
            time.sleep(plan.poll_s)
            continue
        log(f"nightly: submitted {submission_id}: {plan.entrypoint}")
