"""The Ray Train worker loop: one stage, DDP over the workers, each reading only its shard.

Rank 0 writes checkpoints (reported to Ray, which keeps the last N in RunConfig.storage_path), the
best adapters by validation loss, the final adapters and the TensorBoard events; every rank reports,
so Ray's barrier stays aligned. A restarted worker group resumes from Ray's latest checkpoint."""
from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass

import ray.train
import ray.train.torch
import torch
import torch.distributed as dist
from ray.data.collate_fn import NumpyBatchCollateFn

from vidmusician.config.schema import Config
from vidmusician.devices import set_torch_threads
from vidmusician.models.builders import build_model
from vidmusician.models.checkpoint import load_adapters, save_adapters
from vidmusician.storage import Storage, join_uri
from vidmusician.train.batch import TrainBatch, collate
from vidmusician.train.feature_data import TRAIN, VAL
from vidmusician.train.loop import StageTrainer
from vidmusician.train.state import ADAPTERS_FILE, read_checkpoint, write_checkpoint
from vidmusician.train.tensorboard import EventLog
from vidmusician.weights import local_models


@dataclass
class StagePaths:
    """Where a stage's outputs go (URIs, local or s3://)."""
    export_dir: str        # <output>/stage<N>/: adapters.safetensors (final) and best.safetensors
    tensorboard_dir: str   # <output>/tensorboard/stage<N>/
    fault_marker: str      # written once when the injected fault fires, so it fires only once

    @property
    def final(self) -> str:
        return join_uri(self.export_dir, ADAPTERS_FILE)

    @property
    def best(self) -> str:
        return join_uri(self.export_dir, "best.safetensors")


def _all_sum(values: list[float]) -> list[float]:
    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


class FeatureCollate(NumpyBatchCollateFn):
    """`collate` behind Ray's collate interface (plain functions are deprecated since Ray 2.47)."""

    def __call__(self, batch: dict) -> TrainBatch:
        return collate(batch)


def _node_count(world: int) -> int:
    """On how many Ray nodes the ranks of this group run."""
    node = ray.get_runtime_context().get_node_id()
    if world == 1 or not dist.is_initialized():
        return 1
    nodes = [None] * world
    dist.all_gather_object(nodes, node)
    return len(set(nodes))


def _ranks_in_sync(params: list[torch.Tensor]) -> bool:
    """DDP keeps every rank's adapters identical; a rank that drifted (a missed all-reduce, a rank
    restored from another checkpoint) would go on training other weights unseen. Compares the
    all-reduced min and max of each tensor's sum, and fails the worker if any differ."""
    if not dist.is_initialized():
        return True
    sums = torch.stack([p.detach().double().sum().cpu() for p in params])
    low, high = sums.clone(), sums.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    if not torch.equal(low, high):
        raise RuntimeError(f"the ranks' adapters differ in {int((low != high).sum())} of {len(sums)} tensors")
    return True


def _train_batches(tcfg):
    """Endless epochs over this worker's shard (full batches only, so every rank steps alike)."""
    shard = ray.train.get_dataset_shard(TRAIN)
    while True:
        seen = 0
        for batch in shard.iter_torch_batches(batch_size=tcfg.batch_size, collate_fn=FeatureCollate(),
                                              drop_last=True,
                                              local_shuffle_buffer_size=tcfg.shuffle_buffer or None):
            seen += 1
            yield batch
        if not seen:
            raise RuntimeError(f"this worker's shard cannot fill one batch of {tcfg.batch_size} windows")


def _validate(trainer: StageTrainer, tcfg, rank: int, world: int) -> float:
    """Token-weighted validation loss over the whole (unsplit) validation set, batches dealt round-robin."""
    shard = ray.train.get_dataset_shard(VAL)
    batches = shard.iter_torch_batches(batch_size=tcfg.batch_size, collate_fn=FeatureCollate())
    mine = (b for i, b in enumerate(batches) if i % world == rank)
    total, tokens = _all_sum(list(trainer.evaluate(mine)))
    return total / tokens if tokens else float("nan")


def _maybe_inject_fault(cfg: Config, paths: StagePaths, step: int, rank: int, world: int) -> None:
    if cfg.train.fail_at_step != step or rank != world - 1:
        return
    storage = Storage(cfg.storage)
    if storage.exists(paths.fault_marker):
        return
    storage.write_text(paths.fault_marker, f"worker {rank} killed at step {step}\n")
    # Ray registers a reported checkpoint when its controller next polls the workers; a worker dying
    # within one poll of a report loses that checkpoint. Wait out the polls, so the fault is reproducible.
    time.sleep(cfg.train.fail_wait_s)
    os._exit(1)  # a worker dying mid-step, as a lost node would


def _report(trainer: StageTrainer, metrics: dict, extra: dict, rank: int, events: EventLog | None) -> None:
    """Every rank reports (Ray's barrier); rank 0 attaches the checkpoint, which Ray persists."""
    report = {**metrics, "step": trainer.step, "stage": trainer.stage, **extra}
    if events:
        events.flush()
    with tempfile.TemporaryDirectory() as tmp:
        if rank == 0:
            write_checkpoint(tmp, trainer, extra)
            ray.train.report(report, checkpoint=ray.train.Checkpoint.from_directory(tmp))
        else:
            ray.train.report(report)


def train_stage_worker(config: dict) -> None:
    cfg: Config = config["cfg"]
    stage: int = config["stage"]
    paths: StagePaths = config["paths"]
    tcfg = cfg.train
    set_torch_threads(tcfg.torch_threads)
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    torch.manual_seed(cfg.seed + rank)

    model = build_model(local_models(cfg).model, str(device), cfg.seed, cfg.precision, recorded=cfg.model)
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None and config.get("init_adapters"):
        load_adapters(model, config["init_adapters"], cfg.storage)
    trainer = StageTrainer(model, stage, tcfg, device, wrap=ray.train.torch.prepare_model)
    extra = {"best_val": math.inf, "restarts": 0, "samples": 0, "tokens": 0}
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            extra = read_checkpoint(d, trainer)
        extra["restarts"] += 1
    storage = Storage(cfg.storage)
    events = EventLog(paths.tensorboard_dir, storage) if rank == 0 else None
    batches = _train_batches(tcfg)
    nodes = _node_count(world)
    window_start, window_samples, window_tokens, window_steps = time.perf_counter(), 0, 0, 0
    metrics: dict = {}

    while not trainer.done:
        micro = [next(batches) for _ in range(tcfg.grad_accum_steps)]
        _maybe_inject_fault(cfg, paths, trainer.step + 1, rank, world)
        metrics = trainer.train_step(micro)
        window_samples += sum(b.size for b in micro)
        window_tokens += sum(b.tokens for b in micro)
        window_steps += 1
        step = trainer.step
        if step % tcfg.log_every == 0 or trainer.done:
            samples, tokens = _all_sum([window_samples, window_tokens])
            elapsed = time.perf_counter() - window_start
            # Wall time per step since the last log, data loading included; a validation or checkpoint
            # done right after a log is counted in the next window.
            metrics.update({"samples_per_s": samples / elapsed, "tokens_per_s": tokens / elapsed,
                            "step_time_s": elapsed / window_steps})
            extra["samples"] += samples
            extra["tokens"] += tokens
            window_start, window_samples, window_tokens, window_steps = time.perf_counter(), 0, 0, 0
            if events:
                events.scalars(step, {f"train/{k}": v for k, v in metrics.items()})
        if step % tcfg.val_every == 0 or trainer.done:
            metrics["val_loss"] = _validate(trainer, tcfg, rank, world)
            if rank == 0 and metrics["val_loss"] < extra["best_val"]:
                save_adapters(model, paths.best, cfg.storage)
            extra["best_val"] = min(extra["best_val"], metrics["val_loss"])
            if events:
                events.scalars(step, {"val/loss": metrics["val_loss"]})
        if step % tcfg.checkpoint_every == 0 or trainer.done:
            metrics.update(nodes=nodes, ranks_in_sync=_ranks_in_sync(trainer.params))
            if trainer.done and rank == 0:
                save_adapters(model, paths.final, cfg.storage)
            _report(trainer, metrics, extra, rank, events)
    if not metrics:  # a finished run started again: report its last state, so the result carries it
        _report(trainer, {}, extra, rank, events)
    if events:
        events.close()
