"""What a training checkpoint holds, on disk: the adapters (the same safetensors file the soundtracking
job loads) plus the trainer state (optimiser, schedule, step, RNG, best validation loss)."""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from vidmusician.models.checkpoint import adapter_bytes
from vidmusician.models.vidmusician import is_adapter_param
from vidmusician.train.loop import StageTrainer

ADAPTERS_FILE = "adapters.safetensors"
TRAINER_FILE = "trainer.pt"


def write_checkpoint(directory: str | Path, trainer: StageTrainer, extra: dict) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / ADAPTERS_FILE).write_bytes(adapter_bytes(trainer.model))
    torch.save({"trainer": trainer.state_dict(), "extra": extra}, d / TRAINER_FILE)


def read_checkpoint(directory: str | Path, trainer: StageTrainer) -> dict:
    """Restores adapters and trainer state in place; returns the extra dict saved with them."""
    d = Path(directory)
    state = load_file(str(d / ADAPTERS_FILE))
    if not all(is_adapter_param(k) for k in state):
        raise ValueError(f"{d}: checkpoint holds non-adapter weights")
    trainer.model.load_state_dict(state, strict=False)
    saved = torch.load(d / TRAINER_FILE, weights_only=True)
    trainer.load_state_dict(saved["trainer"])
    return saved["extra"]
