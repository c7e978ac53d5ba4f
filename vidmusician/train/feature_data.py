"""The feature dataset as the trainer sees it: its shards, its videos and the split by video.

No torch here: the Ray Data stages that filter the split import this module."""
from __future__ import annotations

import hashlib
from typing import Iterator

import numpy as np
import pyarrow as pa
import ray.data.extensions  # noqa: F401  (registers Ray's tensor types with pyarrow before any read)

from vidmusician.extract.format import ARRAYS, FEATURES_DIR, OUTCOMES_NAME
from vidmusician.storage import Storage, join_uri
from vidmusician.video.rows import STATUS_OK, unpack

TRAIN, VAL = "train", "val"


def feature_shards(features_uri: str, storage: Storage) -> list[str]:
    shards = sorted(u for u in storage.list(join_uri(features_uri, FEATURES_DIR)) if u.endswith(".parquet"))
    if not shards:
        raise FileNotFoundError(f"{features_uri}: no feature shards under {FEATURES_DIR}/ "
                                f"(run jobs/extract_features.py with output={features_uri} first)")
    return shards


def ok_videos(outcomes: pa.Table) -> list[str]:
    """The ids of the ok rows of an outcomes table: the videos that have windows."""
    return sorted(v for v, s in zip(outcomes.column("video_id").to_pylist(), outcomes.column("status").to_pylist())
                  if s == STATUS_OK)


def dataset_videos(features_uri: str, storage: Storage) -> list[str]:
    """The ids of the videos that have windows in the dataset (ok rows of its outcomes table)."""
    return ok_videos(storage.read_parquet(join_uri(features_uri, OUTCOMES_NAME)))


def _rank_key(video_id: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{video_id}".encode()).hexdigest()


def validation_videos(video_ids: list[str], fraction: float, seed: int) -> set[str]:
    """A fixed pseudo-random `fraction` of the videos (at least one when there are two or more): every
    window of a video lands on the same side, so no clip leaks between train and validation."""
    ids = sorted(set(video_ids), key=lambda v: _rank_key(v, seed))
    count = min(len(ids) - 1, max(1, round(fraction * len(ids)))) if fraction > 0 else 0
    return set(ids[:max(0, count)])


def on_side(video_id: str, val_ids: frozenset, side: str, videos: frozenset) -> bool:
    """Whether a window of `video_id` belongs to this side of the split: one of the dataset's `videos`
    (the outcomes table is what commits a video: a video that failed after some of its windows were
    written has windows in the shards but an error outcome), on the side its id falls."""
    return video_id in videos and (video_id in val_ids) == (side == VAL)


def keep_split(batch: dict[str, np.ndarray], val_ids: frozenset, side: str,
               videos: frozenset) -> dict[str, np.ndarray]:
    """Ray Data map_batches filter over a feature dataset: the rows on one side of the split."""
    keep = np.array([on_side(v, val_ids, side, videos) for v in batch["video_id"]], dtype=bool)
    return {k: v[keep] for k, v in batch.items()}


def training_rows(row: dict, val_ids: frozenset, side: str, videos: frozenset) -> Iterator[dict]:
    """Ray Data flat_map over the feature stage's rows (training from videos, train/video_data.py): an
    ok window of a committed video on this side of the split, unpacked into the columns a shard holds,
    or nothing."""
    if row["status"] != STATUS_OK or not on_side(row["video_id"], val_ids, side, videos):
        return
    arrays = unpack(row["payload"])
    yield {"video_id": row["video_id"], "window_index": row["window_index"], **{k: arrays[k] for k in ARRAYS}}


def tensor_columns(table: pa.Table, columns) -> dict[str, np.ndarray]:
    """Ray's tensor columns of a pyarrow table as ndarrays (the extension type is registered by Ray)."""
    out = {}
    for c in columns:
        chunks = [chunk.to_numpy(zero_copy_only=False) for chunk in table.column(c).chunks]
        out[c] = np.concatenate(chunks) if chunks else np.zeros((0,))
    return out


def read_windows(features_uri: str, storage: Storage, columns) -> tuple[list[str], dict[str, np.ndarray]]:
    """Every window of the dataset in memory (video ids, columns): the plain loop and the benchmarks."""
    videos = frozenset(dataset_videos(features_uri, storage))
    tables = [storage.read_parquet(u) for u in feature_shards(features_uri, storage)]
    parts = [keep_split({"video_id": np.array(t.column("video_id").to_pylist(), dtype=object),
                         **tensor_columns(t, columns)}, frozenset(), TRAIN, videos) for t in tables]
    ids = [v for p in parts for v in p["video_id"]]
    return ids, {c: np.concatenate([p[c] for p in parts]) for c in columns}
