"""The row every stage of both pipelines passes on, its statuses, and the compact payloads it carries.

Every row between stages has the same scalar columns plus one `payload` column (npz bytes), so ok
rows and error rows share a schema and no stage needs Arrow tensor types."""
from __future__ import annotations

import io

import numpy as np

# A silent training window is dropped (its row carries no payload); a video whose windows are all
# silent is an error. "not_done": an infrastructure fault outlasted the retries (vidmusician/faults.py);
# recorded with its reason, never final: the next run processes the input again.
STATUS_OK, STATUS_ERROR, STATUS_SILENT, STATUS_NOT_DONE = "ok", "error", "silent", "not_done"


def pack(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob)) as data:
        return {k: data[k] for k in data.files}


def video_row(item: dict, status: str = STATUS_OK, reason: str = "", **fields) -> dict:
    """An input's identity (video_id, uri, meta), its outcome so far, what is known of its file, and a
    payload; each pipeline adds its own fields (training windows, soundtrack timings)."""
    row = {"video_id": item["video_id"], "uri": item["uri"], "meta": item.get("meta", "{}"),
           "status": status, "reason": reason, "content_hash": "", "duration_s": 0.0, "payload": b""}
    row.update(fields)
    return row
