"""Two kinds of failure on one input, treated apart by every job:

- an input fault (cannot decode, no video stream, too short, a missing object...) is final: the input's
  error row, which a rerun keeps;
- an infrastructure fault (storage, network, throttling, expired or denied credentials, out of memory,
  a lost worker) says nothing about the input: it is retried within the run with exponential backoff
  (tenacity), and if it persists the input is recorded as not done, which the next run retries
  without any flag.

When inputs keep ending not done one after the other (the bucket is unreachable, access is denied for
everything), the job stops early with InfrastructureFailure instead of recording thousands of them."""
from __future__ import annotations

from collections import Counter
from typing import Callable, TypeVar

import tenacity

from vidmusician.config.schema import RetryConfig
from vidmusician.storage import ObjectNotFound, StorageError
from vidmusician.video.errors import InputError, error_reason, error_reason_kind
from vidmusician.video.rows import STATUS_ERROR, STATUS_NOT_DONE

T = TypeVar("T")
# Exception class names (matched along the MRO, so torch and Ray are not imported here) that say the
# machine or the cluster failed, not the input: torch's and Ray's out-of-memory errors, lost workers,
# actors and objects.
INFRASTRUCTURE_ERRORS = frozenset({
    "OutOfMemoryError", "MemoryError", "RayActorError", "ActorDiedError", "ActorUnavailableError",
    "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OwnerDiedError", "RaySystemError",
    "ConnectionError", "TimeoutError", "DecoderKilled", "DecoderUnavailable"})


class SourceChanged(InputError):
    """The input object was replaced while the run worked on it. Its message is the whole reason (an
    InputError), but it is not final: the next run soundtracks the new content."""


class InfrastructureFailure(RuntimeError):
    """The job stopped early: infrastructure faults kept inputs from being processed."""


def is_transient(err: BaseException) -> bool:
    """Whether `err` is an infrastructure fault (worth retrying) rather than the input's own fault. A
    missing input object is the input's fault; every other storage error is the storage's."""
    if isinstance(err, ObjectNotFound):
        return False
    if isinstance(err, (StorageError, SourceChanged)):
        return True
    return any(cls.__name__ in INFRASTRUCTURE_ERRORS for cls in type(err).__mro__)


def failure(err: BaseException, uri: str = "", stage: str = "") -> tuple[str, str]:
    """(status, reason) of an input that failed with `err`: "not_done" for an infrastructure fault
    (the next run tries again), else a final "error"."""
    return (STATUS_NOT_DONE if is_transient(err) else STATUS_ERROR), error_reason(err, uri, stage)


def retrying(fn: Callable[[], T], policy: RetryConfig, sleep: Callable[[float], None] = tenacity.nap.sleep) -> T:
    """fn(), tried up to `policy.attempts` times while it raises infrastructure faults, waiting an
    exponentially growing, jittered time between tries; the last fault (or any input fault) is raised."""
    retryer = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=tenacity.wait_random_exponential(multiplier=policy.backoff_s, max=policy.max_backoff_s),
        # A changed source stays changed within the run: only the next run can make its soundtrack.
        retry=tenacity.retry_if_exception(lambda e: is_transient(e) and not isinstance(e, SourceChanged)),
        reraise=True, sleep=sleep)
    return retryer(fn)


class NotDoneStreak:
    """Counts inputs that ended not done in a row; stops the job when `policy.stop_after_not_done` did,
    naming the most common cause."""

    def __init__(self, policy: RetryConfig):
        self.limit = policy.stop_after_not_done
        self.reasons: Counter = Counter()

    def update(self, not_done: bool, reason: str = "") -> None:
        if not not_done:
            self.reasons.clear()
            return
        self.reasons[error_reason_kind(reason)] += 1
        if self.limit and sum(self.reasons.values()) >= self.limit:
            cause, _ = self.reasons.most_common(1)[0]
            raise InfrastructureFailure(
                f"stopped: {self.limit} inputs in a row could not be processed because of infrastructure "
                f"faults (most common: {cause}). Nothing was recorded as failed; fix the cause and rerun: "
                "the run resumes where it stopped")
