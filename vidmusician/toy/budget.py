"""The wall-clock-budgeted optimisation loop both toy trainings share."""
from __future__ import annotations

import time
from typing import Callable

import torch


def train_for(minutes: float, opt: torch.optim.Optimizer, loss_fn: Callable[[], torch.Tensor],
              name: str, log_every: int, log=print) -> tuple[int, float]:
    """Steps `opt` on `loss_fn()` until the budget runs out; returns (steps, last loss)."""
    start = time.monotonic()
    deadline, steps, last = start + minutes * 60, 0, float("nan")
    while time.monotonic() < deadline:
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps, last = steps + 1, float(loss.item())
        if steps % log_every == 0:
            log(f"{name} step {steps} loss {last:.3f} ({time.monotonic() - start:.0f} s)")
    return steps, last
