"""One training stage as plain PyTorch: optimiser, schedule, step, validation and resumable state.
Ray Train runs it inside each worker (the model wrapped in DDP); the plain loop runs it as is."""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from vidmusician.config.schema import LossConfig, Precision, StageSchedule, TrainConfig
from vidmusician.models.conditions import VisualConditions
from vidmusician.models.vidmusician import VidMusician
from vidmusician.train.batch import TrainBatch


class Objective(nn.Module):
    """The loss as a module's forward, so DDP's gradient hooks see the whole computation."""

    def __init__(self, model: VidMusician, loss: LossConfig):
        super().__init__()
        self.model, self.objective = model, loss

    def forward(self, codes, cls, cls_steps, cls_mask, rhythm, present, frame_mask):
        out = self.model.loss(codes, VisualConditions(cls, cls_steps, cls_mask, rhythm, present), frame_mask,
                              self.objective)
        return out.loss, out.per_codebook


def _args(batch: TrainBatch) -> tuple:
    c = batch.cond
    return batch.codes, c.cls, c.cls_steps, c.cls_mask, c.rhythm, c.present, batch.frame_mask


def lr_factor(step: int, schedule: StageSchedule, min_ratio: float) -> float:
    """Linear warm-up over warmup_steps, then cosine from 1 down to min_ratio at the last step."""
    if step < schedule.warmup_steps:
        return (step + 1) / schedule.warmup_steps
    span = max(1, schedule.steps - schedule.warmup_steps)
    progress = min(1.0, (step - schedule.warmup_steps) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def stage_schedule(tcfg: TrainConfig, stage: int) -> StageSchedule:
    return tcfg.stage1 if stage == 1 else tcfg.stage2


class StageTrainer:
    """Trains the adapters of one stage. `wrap` (e.g. Ray's prepare_model) wraps the objective for
    distributed training; the model itself is never replaced, so checkpoints stay plain."""

    def __init__(self, model: VidMusician, stage: int, tcfg: TrainConfig, device: str | torch.device = "cpu",
                 wrap: Callable[[nn.Module], nn.Module] | None = None):
        self.model, self.stage, self.tcfg = model, stage, tcfg
        self.device = torch.device(device)
        self.schedule = stage_schedule(tcfg, stage)
        model.set_stage(stage)
        self.params = [p for p in model.parameters() if p.requires_grad]
        objective = Objective(model, self.schedule.loss).to(self.device)
        self.runner = wrap(objective) if wrap else objective
        self.optimizer = torch.optim.AdamW(self.params, lr=self.schedule.lr, betas=tuple(tcfg.betas),
                                           weight_decay=tcfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, self.schedule, tcfg.min_lr_ratio))
        # float16's narrow range needs loss scaling (bfloat16's does not); a no-op otherwise.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=model.precision is Precision.fp16)
        self.step = 0

    @property
    def done(self) -> bool:
        return self.step >= self.schedule.steps

    def train_step(self, batch: TrainBatch | Sequence[TrainBatch]) -> dict[str, float]:
        """One optimiser step over a batch, or over micro-batches whose gradients accumulate, each
        weighted 1/n (train.grad_accum_steps). Under DDP only the last one all-reduces the gradients."""
        micro = [batch] if isinstance(batch, TrainBatch) else list(batch)
        self.model.train()
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.zero_grad(set_to_none=True)
        losses, per_codebook = [], []
        for i, part in enumerate(micro):
            last = i == len(micro) - 1
            quiet = self.runner.no_sync() if not last and hasattr(self.runner, "no_sync") else contextlib.nullcontext()
            with quiet:
                with self.model.autocast():
                    loss, codebooks = self.runner(*_args(part.to(self.device)))
                self.scaler.scale(loss / len(micro)).backward()
            losses.append(loss.detach().float())
            per_codebook.append(codebooks.detach().float())
        loss, per_codebook = torch.stack(losses).mean(), torch.stack(per_codebook).mean(0)
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.tcfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        metrics = {"loss": float(loss.item()), "lr": lr, "grad_norm": float(grad_norm)}
        metrics.update({f"loss_k{k}": float(v) for k, v in enumerate(per_codebook.tolist())})
        return metrics

    @torch.no_grad()
    def evaluate(self, batches: Iterable[TrainBatch]) -> tuple[float, int]:
        """(sum of token-weighted loss, tokens) over `batches`, conditions never dropped: the training
        objective (train.stageN.loss), so the best adapters are the best by what training minimises."""
        self.model.eval()
        total, tokens = 0.0, 0
        for batch in batches:
            batch = batch.to(self.device)
            with self.model.autocast():
                out = self.model.loss(batch.codes, batch.cond, batch.frame_mask, self.schedule.loss)
            total += float(out.loss) * batch.tokens
            tokens += batch.tokens
        return total, tokens

    def state_dict(self) -> dict:
        return {"stage": self.stage, "step": self.step, "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        if state["stage"] != self.stage:
            raise ValueError(f"checkpoint is of stage {state['stage']}, this trainer runs stage {self.stage}")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        torch.set_rng_state(state["rng"])
