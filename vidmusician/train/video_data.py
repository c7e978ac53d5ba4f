"""The training windows straight from videos: the extract job's decode tasks and feature actor pool
(extract/pipeline.py's feature_windows, the same per-video layer), run once into Ray's object store
for both stages and every epoch, with the run's outcomes table (one row per input, as the extract job
writes it).

Decode and features run to completion before the first training step, so the feature actors give
their GPUs back before the training workers ask for theirs: neither phase starves the other, and each
gets every GPU of the cluster while it runs (README, Training)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import ray

from vidmusician.config import Config
from vidmusician.extract.format import ARRAYS
from vidmusician.extract.pipeline import feature_windows
from vidmusician.extract.shards import SUMMARY_KEYS, outcomes, summarize, write_outcomes
from vidmusician.storage import Storage
from vidmusician.train.feature_data import TRAIN, VAL, ok_videos, training_rows
from vidmusician.video.inputs import resolve_inputs
from vidmusician.video.rows import STATUS_NOT_DONE

# The scalar columns the driver reads back to write the outcomes table.
OUTCOME_KEYS = tuple(k for k in SUMMARY_KEYS if k != "shard")


class InputsNotDone(RuntimeError):
    """Transient faults outlasted the retries for some inputs: training on the rest would silently
    train on a partial set, so the run stops (its outcomes written) and a rerun tries them again."""

    def __init__(self, count: int, detail: str):
        super().__init__(f"{count} inputs not done (transient faults outlasted the retries; rerun to try "
                         f"them again), {detail}")


@dataclass
class VideoWindows:
    windows: ray.data.Dataset | None  # materialised: one row per window or failed input, features packed
    outcomes: pa.Table
    outcomes_uri: str
    summary: str

    def ok_videos(self) -> list[str]:
        return ok_videos(self.outcomes)


def video_windows(cfg: Config, storage: Storage, log=print) -> VideoWindows:
    """Decodes and featurises every input of `cfg.input` once; writes <output>/outcomes.parquet."""
    inputs = resolve_inputs(cfg.input, storage, cfg.video.suffixes)
    windows, summaries = None, []
    if inputs.items:
        windows = feature_windows(cfg, inputs.items).materialize()
        summaries = windows.select_columns(list(OUTCOME_KEYS)).take_all()
    table = outcomes(inputs.items, summaries, inputs.rejected)
    uri = write_outcomes(table, cfg.output, storage)
    found = VideoWindows(windows, table, uri, summarize(table, 0.0).split("\n", 2)[0])
    log(f"videos -> windows: {found.summary}; outcomes {uri}")
    not_done = [r for r in table.to_pylist() if r["status"] == STATUS_NOT_DONE]
    if not_done:
        raise InputsNotDone(len(not_done), f"first: {not_done[0]['uri']}: {not_done[0]['reason']}")
    if not found.ok_videos():
        raise ValueError(f"no input of {cfg.input} gave a training window: see {uri}")
    return found


def split_windows(found: VideoWindows, val_ids: frozenset) -> dict[str, ray.data.Dataset]:
    videos = frozenset(found.ok_videos())
    return {side: found.windows.flat_map(training_rows, fn_kwargs={"val_ids": val_ids, "side": side,
                                                                   "videos": videos})
            for side in (TRAIN, VAL)}


def window_arrays(ds: ray.data.Dataset) -> tuple[list[tuple[str, int]], dict[str, np.ndarray]]:
    """(video id, window index) per row and the stacked arrays, in that order: for comparing the
    windows with a feature dataset's (tests, debugging)."""
    rows = sorted(ds.take_all(), key=lambda r: (r["video_id"], r["window_index"]))
    return [(r["video_id"], int(r["window_index"])) for r in rows], {k: np.stack([r[k] for r in rows]) for k in ARRAYS}
