"""Training windows of a video, and the compact payloads that carry them between Ray stages.

Every row between stages has the same scalar columns plus one `payload` column (npz bytes), so ok
rows and error rows share a schema and no stage needs Arrow tensor types."""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

# Columns of every row between stages.
# A silent window is dropped (its row carries no payload); a video whose windows are all silent is an error.
STATUS_OK, STATUS_ERROR, STATUS_SILENT = "ok", "error", "silent"


@dataclass
class WindowSpan:
    index: int
    start_s: float
    end_s: float     # nominal end (start + window): the padded length
    valid_s: float   # how much of it is real content


def plan_windows(duration_s: float, window_s: float, hop_s: float) -> list[WindowSpan]:
    """Windows of window_s every hop_s; the last partial window is kept (and padded downstream)."""
    if duration_s <= window_s:
        count = 1
    else:
        count = math.ceil((duration_s - window_s) / hop_s - 1e-9) + 1
    spans = []
    for i in range(count):
        start = i * hop_s
        spans.append(WindowSpan(i, start, start + window_s, min(window_s, duration_s - start)))
    return spans


def pack(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob)) as data:
        return {k: data[k] for k in data.files}


def base_row(item: dict, status: str, reason: str = "", **extra) -> dict:
    row = {"video_id": item["video_id"], "uri": item["uri"], "meta": item.get("meta", "{}"),
           "status": status, "reason": reason, "content_hash": "", "duration_s": 0.0,
           "window_index": -1, "start_s": 0.0, "end_s": 0.0, "valid_s": 0.0, "payload": b""}
    row.update(extra)
    return row


def error_row(item: dict, reason: str, **extra) -> dict:
    return base_row(item, STATUS_ERROR, reason, **extra)
