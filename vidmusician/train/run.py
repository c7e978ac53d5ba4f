"""The training job's driver: builds the feature datasets (split by video), then runs stage 1 and/or
stage 2 as Ray Train TorchTrainer runs (DDP), and summarises them.

Runs are named <run_name>-stage<N> under train.storage_path; Ray resumes a run whose name already
exists there, so a rerun with the same train.run_name continues instead of restarting."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace

import ray
from ray.train import CheckpointConfig, DataConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from vidmusician.config import Config, dump_config
from vidmusician.config.validate import TRAIN_STAGES
from vidmusician.extract.format import FEATURES_DIR, OUTCOMES_NAME
from vidmusician.extract.pipeline import run_extract
from vidmusician.raycluster import init_ray
from vidmusician.storage import Storage, absolute_uri, join_uri
from vidmusician.train.batch import TRAIN_COLUMNS
from vidmusician.train.feature_data import TRAIN, VAL, dataset_videos, feature_shards, keep_split, validation_videos
from vidmusician.train.state import ADAPTERS_FILE
from vidmusician.train.video_data import InputsNotDone, split_windows, video_windows
from vidmusician.train.worker import StagePaths, train_stage_worker



@dataclass
class StageResult:
    stage: int
    run_name: str
    metrics: dict
    paths: StagePaths
    checkpoint: str
    elapsed_s: float


@dataclass
class TrainResult:
    run_name: str
    stages: list[StageResult] = field(default_factory=list)
    videos: tuple[int, int] = (0, 0)  # (train, validation)
    adapters: str = ""                # the final export: what the soundtracking job loads
    workers: int = 1
    effective_batch: int = 0          # windows per optimiser step: batch x accumulation x workers

    def summary(self) -> str:
        lines = [f"run {self.run_name}: {self.videos[0]} training videos, {self.videos[1]} validation videos, "
                 f"{self.workers} workers, {self.effective_batch} windows per step"]
        for s in self.stages:
            m = s.metrics
            lines.append(f"stage {s.stage}: {m.get('step', 0)} steps in {s.elapsed_s:.0f} s, loss "
                         f"{m.get('loss', float('nan')):.3f}, val {m.get('val_loss', float('nan')):.3f} "
                         f"(best {m.get('best_val', float('nan')):.3f}), {m.get('tokens_per_s', 0):.0f} tokens/s, "
                         f"{m.get('samples_per_s', 0):.1f} windows/s "
                         f"({m.get('samples_per_s', 0) / self.workers:.1f} per worker, ranks on {m.get('nodes', 1)} "
                         f"nodes), restarts {m.get('restarts', 0)}")
            lines.append(f"  adapters {s.paths.final} (best: {s.paths.best}); checkpoint {s.checkpoint}")
        lines.append(f"export: {self.adapters}")
        return "\n".join(lines)


def run_name(cfg: Config) -> str:
    return cfg.train.run_name or f"train-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def storage_location(cfg: Config, storage: Storage):
    """(pyarrow filesystem, path in it) for RunConfig: train.storage_path, else <output>/checkpoints."""
    return storage.arrow_fs(cfg.train.storage_path or join_uri(cfg.output, "checkpoints"))


def feature_datasets(cfg: Config, storage: Storage) -> tuple[dict[str, ray.data.Dataset], list[str], frozenset]:
    """The split of a feature dataset (train.features), read from its shards."""
    features = cfg.train.features
    videos = dataset_videos(features, storage)
    val_ids = frozenset(validation_videos(videos, cfg.train.val_fraction, cfg.seed))
    fs, _ = storage.arrow_fs(features)
    paths = [storage.arrow_fs(u)[1] for u in feature_shards(features, storage)]
    ds = ray.data.read_parquet(paths, filesystem=fs).select_columns(["video_id", *TRAIN_COLUMNS])
    return ({side: ds.map_batches(keep_split, fn_kwargs={"val_ids": val_ids, "side": side,
                                                         "videos": frozenset(videos)}, batch_format="numpy")
             for side in (TRAIN, VAL)}, videos, val_ids)


def datasets(cfg: Config, storage: Storage, log=print) -> tuple[dict[str, ray.data.Dataset], int, int]:
    """Train and validation windows, split by video: from the feature dataset, or from the videos."""
    if cfg.train.features:  # it wins over input (see run_training)
        split, videos, val_ids = feature_datasets(cfg, storage)
    else:
        found = video_windows(cfg, storage, log)
        videos = found.ok_videos()
        val_ids = frozenset(validation_videos(videos, cfg.train.val_fraction, cfg.seed))
        split = split_windows(found, val_ids)
    # Validation is small and read by every worker each time: read it once.
    split[VAL] = split[VAL].materialize()
    if cfg.train.cache_dataset:
        split[TRAIN] = split[TRAIN].materialize()
    for ds in split.values():
        # Each worker (and Ray Train's split coordinator) runs these with its own copy of the
        # dataset's context, and every epoch is a new execution: with bars and start messages on,
        # each epoch prints nested bars through the driver's log. The stage's progress is its step log.
        ds.context.enable_progress_bars = False
        ds.context.print_on_execution_start = False
    return split, len(videos) - len(val_ids), len(val_ids)


def features_to_storage(cfg: Config, storage: Storage, log=print) -> Config:
    """train.video_features=storage: the extract job writes the videos' features under <output>/features
    (its outcomes copied to <output>/outcomes.parquet); the run then trains from that dataset."""
    features = join_uri(cfg.output, FEATURES_DIR)
    extracted = run_extract(replace(cfg, output=features))
    storage.write_bytes(join_uri(cfg.output, OUTCOMES_NAME), storage.read_bytes(extracted.outcomes_uri))
    log(f"videos -> {features}: {extracted.summary.splitlines()[0]}")
    if extracted.not_done:
        raise InputsNotDone(extracted.not_done, f"see {extracted.outcomes_uri}")
    return replace(cfg, train=replace(cfg.train, features=features))


def _trainer(cfg: Config, stage: int, name: str, data: dict, paths: StagePaths, init: str | None,
             storage: Storage) -> TorchTrainer:
    tcfg = cfg.train
    fs, location = storage_location(cfg, storage)
    resources = {"CPU": tcfg.cpus_per_worker, **tcfg.worker_resources, **({"GPU": 1} if tcfg.use_gpu else {})}
    return TorchTrainer(
        train_stage_worker,
        train_loop_config={"cfg": cfg, "stage": stage, "paths": paths, "init_adapters": init},
        scaling_config=ScalingConfig(num_workers=tcfg.num_workers, use_gpu=tcfg.use_gpu,
                                     resources_per_worker=resources),
        datasets=data,
        # Validation is not split: each worker reads all of it and evaluates every world_size-th batch.
        dataset_config=DataConfig(datasets_to_split=[TRAIN]),
        run_config=RunConfig(name=name, storage_path=location, storage_filesystem=fs,
                             failure_config=FailureConfig(max_failures=tcfg.max_failures),
                             checkpoint_config=CheckpointConfig(num_to_keep=tcfg.keep_checkpoints)))


def stage_paths(cfg: Config, name: str, stage: int) -> StagePaths:
    return StagePaths(export_dir=join_uri(cfg.output, f"stage{stage}"),
                      tensorboard_dir=join_uri(cfg.output, "tensorboard", f"stage{stage}"),
                      fault_marker=join_uri(cfg.output, "faults", f"{name}-stage{stage}"))


def absolute_paths(cfg: Config) -> Config:
    """Local paths resolved on the driver: Ray Train workers run in their run's own directory."""
    t = cfg.train
    return replace(cfg, output=absolute_uri(cfg.output), train=replace(
        t, features=absolute_uri(t.features), storage_path=absolute_uri(t.storage_path),
        init_adapters=absolute_uri(t.init_adapters)))


def run_training(cfg: Config, log=print) -> TrainResult:
    cfg = absolute_paths(cfg)
    if cfg.train.stage not in TRAIN_STAGES:  # configs changed in code skip load_config's validation
        raise ValueError(f"train.stage={cfg.train.stage!r}: expected one of {list(TRAIN_STAGES)}")
    if not (cfg.train.features or cfg.input):
        raise ValueError("no training data: train.features (the extract job's output URI) or input "
                         "(videos: a folder, prefix or manifest)")
    if cfg.train.features and cfg.input:  # one config file shared by the jobs sets both
        log(f"training on the feature dataset train.features={cfg.train.features} (input={cfg.input} is not read)")
    storage = Storage(cfg.storage)
    init_ray(cfg.ray)
    dump_config(cfg, cfg.output)  # with absolute paths: also for runs started from code (demo, proof)
    if not cfg.train.features and cfg.train.video_features == "storage":
        cfg = features_to_storage(cfg, storage, log)
    data, n_train, n_val = datasets(cfg, storage, log)
    t = cfg.train
    result = TrainResult(run_name(cfg), videos=(n_train, n_val), workers=t.num_workers,
                         effective_batch=t.batch_size * t.grad_accum_steps * t.num_workers)
    init = cfg.train.init_adapters
    for stage in TRAIN_STAGES[cfg.train.stage]:
        name = f"{result.run_name}-stage{stage}"
        paths = stage_paths(cfg, result.run_name, stage)
        log(f"stage {stage}: run {name}")
        start = time.perf_counter()
        fit = _trainer(cfg, stage, name, data, paths, init, storage).fit()
        if fit.error:
            raise RuntimeError(f"stage {stage} failed: {fit.error}") from fit.error
        result.stages.append(StageResult(stage, name, dict(fit.metrics or {}), paths,
                                         fit.checkpoint.path if fit.checkpoint else "",
                                         time.perf_counter() - start))
        init = paths.final
    result.adapters = join_uri(cfg.output, ADAPTERS_FILE)
    storage.write_bytes(result.adapters, storage.read_bytes(init))
    return result
