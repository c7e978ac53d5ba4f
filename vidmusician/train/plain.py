"""The same stage training without Ray: one process, windows in memory. The baseline the Ray Train
benchmark compares against, and a debugging aid."""
from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from vidmusician.config.schema import TrainConfig
from vidmusician.models.vidmusician import VidMusician
from vidmusician.train.batch import TrainBatch, collate
from vidmusician.train.loop import StageTrainer


def window_batches(columns: dict[str, np.ndarray], rows: np.ndarray, batch_size: int,
                   rng: np.random.Generator) -> Iterator[TrainBatch]:
    """Endless shuffled epochs over `rows`, full batches only."""
    if len(rows) < batch_size:
        raise ValueError(f"{len(rows)} windows cannot fill a batch of {batch_size}")
    while True:
        order = rng.permutation(rows)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            pick = np.sort(order[i:i + batch_size])
            yield collate({k: v[pick] for k, v in columns.items()})


def eval_batches(columns: dict[str, np.ndarray], rows: np.ndarray, batch_size: int) -> Iterator[TrainBatch]:
    for i in range(0, len(rows), batch_size):
        pick = rows[i:i + batch_size]
        yield collate({k: v[pick] for k, v in columns.items()})


def train_stage_plain(model: VidMusician, stage: int, tcfg: TrainConfig, columns: dict[str, np.ndarray],
                      train_rows: np.ndarray, val_rows: np.ndarray, seed: int = 0, device: str = "cpu",
                      log=print) -> dict:
    """Runs one stage to its step count; returns its history (per-step loss, val losses, timings)."""
    trainer = StageTrainer(model, stage, tcfg, device)
    batches = window_batches(columns, train_rows, tcfg.batch_size, np.random.default_rng(seed))
    history = {"loss": [], "val": [], "step_s": []}
    while not trainer.done:
        start = time.perf_counter()  # batch assembly included, as in the Ray worker's step time
        metrics = trainer.train_step([next(batches) for _ in range(tcfg.grad_accum_steps)])
        history["step_s"].append(time.perf_counter() - start)
        history["loss"].append(metrics["loss"])
        if trainer.step % tcfg.val_every == 0 or trainer.done:
            total, tokens = trainer.evaluate(eval_batches(columns, val_rows, tcfg.batch_size))
            history["val"].append((trainer.step, total / max(tokens, 1)))
            log(f"stage {stage} step {trainer.step} loss {metrics['loss']:.3f} val {history['val'][-1][1]:.3f}")
    return history
