"""The feature-extraction pipeline on Ray Data: inputs -> CPU decode tasks -> feature actor pool
(CLIP + codec, GPU when configured) -> Parquet shard writer -> outcomes (one per input).

The functions the stages run live in modules that do not import torch or audiocraft (decode.py,
shards.py): a Ray worker imports the module of the function it runs, and audiocraft alone takes seconds."""
from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa
import ray

from vidmusician.config import Config, config_hash
from vidmusician.extract.decode import decode_video
from vidmusician.extract.featurize import WindowFeaturizer
from vidmusician.extract.shards import drop_failed_windows, outcomes, summarize, write_outcomes, write_shard
from vidmusician.faults import NotDoneStreak
from vidmusician.raycluster import init_ray
from vidmusician.storage import Storage
from vidmusician.video.inputs import resolve_inputs
from vidmusician.video.rows import STATUS_NOT_DONE


@dataclass
class ExtractResult:
    outcomes: pa.Table
    outcomes_uri: str
    not_done: int           # inputs an infrastructure fault left for the next run
    summary: str
    elapsed_s: float


def features_config_hash(cfg: Config) -> str:
    return config_hash({"model": config_hash(cfg.model), "video": config_hash(cfg.video),
                        "extract": config_hash(cfg.extract)})


def feature_windows(cfg: Config, inputs: list[dict]) -> ray.data.Dataset:
    """Inputs -> CPU decode tasks -> the feature actor pool: one row per training window (features
    packed in `payload`) or per failed input. The extract job writes these rows to shards; the train
    job, given videos, trains on them directly (train/video_data.py)."""
    ecfg = cfg.extract
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = True
    # One input per block: decode tasks spread over the cluster instead of queueing in one task.
    ds = ray.data.from_items(inputs, override_num_blocks=max(1, len(inputs)))
    ds = ds.flat_map(decode_video, fn_kwargs={"cfg": cfg}, num_cpus=ecfg.decode_num_cpus,
                     resources=ecfg.decode_resources or None)
    pool = ray.data.ActorPoolStrategy(min_size=ecfg.feature_actors_min, max_size=ecfg.feature_actors_max)
    return ds.map_batches(WindowFeaturizer, fn_constructor_args=(cfg,), batch_size=ecfg.feature_batch_size,
                          batch_format="numpy", num_cpus=ecfg.feature_num_cpus, num_gpus=ecfg.feature_num_gpus,
                          resources=ecfg.feature_resources or None, compute=pool)


def build_dataset(cfg: Config, inputs: list[dict]) -> ray.data.Dataset:
    ecfg = cfg.extract
    return feature_windows(cfg, inputs).map_batches(
        write_shard, fn_kwargs={"output_uri": cfg.output, "storage_cfg": cfg.storage, "chash": features_config_hash(cfg)},
        batch_size=ecfg.shard_windows, batch_format="numpy", num_cpus=ecfg.decode_num_cpus)


def run_extract(cfg: Config) -> ExtractResult:
    start = time.perf_counter()
    storage = Storage(cfg.storage)
    inputs = resolve_inputs(cfg.input, storage, cfg.video.suffixes)
    init_ray(cfg.ray)
    summaries, streak = [], NotDoneStreak(cfg.retry)
    for row in build_dataset(cfg, inputs.items).iter_rows() if inputs.items else []:
        summaries.append(row)
        streak.update(row["status"] == STATUS_NOT_DONE, row["reason"])  # stops a run the storage fails
    table = outcomes(inputs.items, summaries, inputs.rejected)
    drop_failed_windows(summaries, table, storage)  # before the outcomes: they commit the dataset
    uri = write_outcomes(table, cfg.output, storage)
    elapsed = time.perf_counter() - start
    not_done = table.column("status").to_pylist().count(STATUS_NOT_DONE)
    return ExtractResult(table, uri, not_done, summarize(table, elapsed), elapsed)
