"""Feature rows (numpy columns, as Ray Data or pyarrow hand them over) -> the tensors a training step
takes. One collate for the Ray Train workers, the plain loop and the benchmarks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vidmusician.extract.format import ARRAYS
from vidmusician.models.conditions import VisualConditions

# The feature columns a training step reads: every array of a window (extract/format.py).
TRAIN_COLUMNS = ARRAYS


@dataclass
class TrainBatch:
    codes: torch.Tensor       # [B, K, T] long
    cond: VisualConditions
    frame_mask: torch.Tensor  # [B, T] 1 for real audio frames, 0 for the padded tail of a last window

    @property
    def size(self) -> int:
        return int(self.codes.shape[0])

    @property
    def tokens(self) -> int:
        """Target tokens in the batch (valid frames x codebooks): the unit of tokens/s."""
        return int(self.frame_mask.sum().item()) * int(self.codes.shape[1])

    def to(self, device) -> "TrainBatch":
        return TrainBatch(self.codes.to(device), self.cond.to(device), self.frame_mask.to(device))


def _tensor(column) -> torch.Tensor:
    # Ray's tensor columns arrive as one ndarray, pyarrow lists as an object array of ndarrays.
    array = column if column.dtype != object else np.stack(list(column))
    # Ray hands over read-only views of its object store; torch needs memory it may write.
    return torch.from_numpy(np.require(array, requirements=("C", "W")))


def collate(batch: dict[str, np.ndarray]) -> TrainBatch:
    """Stacks a batch of feature windows. CLS token i of a window was taken i / fps after its start."""
    cls = _tensor(batch["cls"]).float()
    steps = torch.arange(cls.shape[1], dtype=torch.float32).expand(cls.shape[0], -1).contiguous()
    cond = VisualConditions(cls=cls, cls_steps=steps, cls_mask=_tensor(batch["cls_mask"]).float(),
                            rhythm=_tensor(batch["rhythm"]).float(),
                            present=torch.ones(cls.shape[0], dtype=torch.bool))
    return TrainBatch(codes=_tensor(batch["codes"]).long(), cond=cond,
                      frame_mask=_tensor(batch["frame_mask"]).float())
