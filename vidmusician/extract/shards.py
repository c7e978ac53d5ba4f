"""Output side of the feature pipeline: Parquet shards of feature windows (written by a Ray stage,
through the storage layer's Arrow filesystem) and the per-input outcomes table (one row per input)."""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa

from vidmusician.extract.format import ARRAYS, FEATURES_DIR, OUTCOMES_NAME, SCALARS
from vidmusician.storage import Storage, join_uri
from vidmusician.video.errors import error_reason_kind
from vidmusician.video.rows import STATUS_ERROR, STATUS_NOT_DONE, STATUS_OK, STATUS_SILENT, unpack

# What flows back to the driver per row (no arrays).
SUMMARY_KEYS = ("video_id", "uri", "status", "reason", "content_hash", "duration_s", "window_index", "shard")


def _tensor_column(values: list[np.ndarray]) -> pa.Array:
    from ray.data.extensions import ArrowTensorArray  # Ray's Arrow extension: read back as ndarrays

    return ArrowTensorArray.from_numpy(np.stack(values))


class ShardWriter:
    """Writes the ok rows of each batch as one Parquet shard named by its content, so a retried task
    rewrites the same file; returns the summary rows of every row of the batch."""

    def __init__(self, output_uri: str, storage_cfg, config_hash: str):
        self.dir = join_uri(output_uri, FEATURES_DIR)
        self.storage = Storage(storage_cfg)
        self.config_hash = config_hash

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ok = [i for i, s in enumerate(batch["status"]) if s == STATUS_OK]
        shard = ""
        if ok:
            cols: dict[str, list] = {k: [batch[k][i] for i in ok] for k in SCALARS}
            arrays = [unpack(batch["payload"][i]) for i in ok]
            key = "|".join(f"{cols['video_id'][j]}:{cols['window_index'][j]}" for j in range(len(ok)))
            name = f"part-{hashlib.sha1(key.encode()).hexdigest()[:16]}.parquet"
            shard = join_uri(self.dir, name)
            table = pa.table({**{k: pa.array(v) for k, v in cols.items()},
                              "config_hash": pa.array([self.config_hash] * len(ok)),
                              **{k: _tensor_column([a[k] for a in arrays]) for k in ARRAYS}})
            self.storage.write_parquet(shard, table)
        out = {k: batch[k] for k in SUMMARY_KEYS if k != "shard"}
        out["shard"] = np.array([shard if s == STATUS_OK else "" for s in batch["status"]], dtype=object)
        return out


def write_shard(batch: dict[str, np.ndarray], output_uri: str, storage_cfg, chash: str) -> dict[str, np.ndarray]:
    """The Ray Data map_batches function of the writer stage."""
    return ShardWriter(output_uri, storage_cfg, chash)(batch)


def outcomes(inputs: list[dict], summaries: list[dict], rejected: list[dict] = ()) -> pa.Table:
    """Exactly one outcome per input: not done if an infrastructure fault stopped it, error (with the
    first reason) if any of its rows failed, error "silent audio" if every window was silent, else ok
    with its window count; then the `rejected` manifest rows, each an error with its reason."""
    by_video: dict[str, list[dict]] = defaultdict(list)
    for row in summaries:
        by_video[row["video_id"]].append(row)
    rows = []
    for item in inputs:
        got = by_video.get(item["video_id"], [])
        errors = [r["reason"] for r in got if r["status"] == STATUS_ERROR]
        not_done = [r["reason"] for r in got if r["status"] == STATUS_NOT_DONE]
        ok = [r for r in got if r["status"] == STATUS_OK]
        silent = [r for r in got if r["status"] == STATUS_SILENT]
        if not_done:
            status, reason = STATUS_NOT_DONE, not_done[0]
        elif errors:
            status, reason = STATUS_ERROR, errors[0]
        elif not got:
            status, reason = STATUS_ERROR, "no result (lost in the pipeline)"
        elif not ok:
            status, reason = STATUS_ERROR, "silent audio (every window silent)"
        else:
            status, reason = STATUS_OK, ""
        first = got[0] if got else {}
        rows.append({"video_id": item["video_id"], "uri": item["uri"], "meta": item.get("meta", "{}"),
                     "status": status, "reason": reason, "windows": len(ok) if status == STATUS_OK else 0,
                     "silent_windows": len(silent), "duration_s": float(first.get("duration_s", 0.0)),
                     "content_hash": first.get("content_hash", "")})
    rows += [{"video_id": r["video_id"], "uri": r["uri"], "meta": r["meta"], "status": STATUS_ERROR,
              "reason": r["reason"], "windows": 0, "silent_windows": 0, "duration_s": 0.0, "content_hash": ""}
             for r in rejected]
    return pa.Table.from_pylist(rows)


def drop_failed_windows(summaries: list[dict], table: pa.Table, storage: Storage) -> int:
    """Removes from the shards the windows of every input whose outcome is not ok (a video that failed
    after some of its windows were written), so that outcomes and shards agree. Returns how many
    shards were rewritten; a shard left empty is deleted."""
    import pyarrow.compute as pc
    import ray.data.extensions  # noqa: F401  (the shards' tensor columns read back as themselves)

    failed = {r["video_id"] for r in table.to_pylist() if r["status"] != STATUS_OK}
    shards = sorted({r["shard"] for r in summaries if r["shard"] and r["video_id"] in failed})
    for uri in shards:
        kept = storage.read_parquet(uri)
        kept = kept.filter(pc.invert(pc.is_in(kept["video_id"], pa.array(sorted(failed), pa.string()))))
        if kept.num_rows:
            storage.write_parquet(uri, kept)
        else:
            storage.delete(uri)
    return len(shards)


def write_outcomes(table: pa.Table, output_uri: str, storage: Storage) -> str:
    uri = join_uri(output_uri, OUTCOMES_NAME)
    storage.write_parquet(uri, table)
    return uri


def summarize(table: pa.Table, elapsed_s: float) -> str:
    rows = table.to_pylist()
    ok = [r for r in rows if r["status"] == STATUS_OK]
    errors = Counter(error_reason_kind(r["reason"]) for r in rows if r["status"] == STATUS_ERROR)
    not_done = Counter(error_reason_kind(r["reason"]) for r in rows if r["status"] == STATUS_NOT_DONE)
    hours = sum(r["duration_s"] for r in ok) / 3600
    lines = [f"inputs {len(rows)}  ok {len(ok)}  errors {sum(errors.values())}  not done {sum(not_done.values())}",
             f"windows {sum(r['windows'] for r in ok)} (silent dropped {sum(r['silent_windows'] for r in rows)})",
             f"video {hours:.4f} h in {elapsed_s:.1f} s: {len(rows) / max(elapsed_s, 1e-9):.2f} videos/s"]
    lines += [f"  error: {n} x {reason}" for reason, n in errors.most_common()]
    lines += [f"  not done (rerun to retry): {n} x {reason}" for reason, n in not_done.most_common()]
    return "\n".join(lines)


