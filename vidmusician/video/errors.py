"""How a failure becomes the `reason` of an error row, the same way in every job's stages, and the
short class of a reason that summaries count."""
from __future__ import annotations

from vidmusician.storage import StorageError

# An error row's reason stays one readable line.
MAX_REASON_CHARS = 300


class InputError(ValueError):
    """An input's own fault (undecodable, no audio, ...): its message is the whole reason."""


def error_reason(err: Exception, uri: str = "", stage: str = "") -> str:
    """`[stage: ]storage: <cause>` (the input's URI, which the row carries already, is dropped),
    `[stage: ]<message>` for an InputError, else `[stage: ]<type>: <message>`; first line only."""
    first = str(err).splitlines()[0][:MAX_REASON_CHARS] if str(err) else ""
    if isinstance(err, StorageError):
        text = "storage: " + (first.replace(f"{uri}: ", "", 1) if uri else first)
    elif isinstance(err, InputError):
        text = first
    else:
        text = f"{type(err).__name__}: {first}"
    return f"{stage}: {text}" if stage else text


def error_reason_kind(reason: str) -> str:
    """A short class of an error reason, for the summary's 'errors by reason'."""
    return reason.split(" (", 1)[0][:60]

