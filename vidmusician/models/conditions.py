"""The visual conditions of a batch of LM windows, in one place so the model, the generator and the
trainer agree on shapes."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch


@dataclass
class VisualConditions:
    cls: torch.Tensor        # [B, N, Dc] CLIP CLS embeddings at the semantic fps
    cls_steps: torch.Tensor  # [B, N] time of each token, in semantic-fps steps from the window start
    cls_mask: torch.Tensor   # [B, N] 1 for a real token, 0 for padding
    rhythm: torch.Tensor     # [B, T, S] patch-change curve at the LM frame rate (window frames)
    present: torch.Tensor    # [B] bool: False = the visual condition is dropped (CFG's null branch)

    @property
    def batch_size(self) -> int:
        return int(self.cls.shape[0])

    def null(self) -> "VisualConditions":
        """The same batch with every condition dropped: what the CFG null branch and dropout see."""
        return replace(self, cls=torch.zeros_like(self.cls), cls_mask=torch.zeros_like(self.cls_mask),
                       rhythm=torch.zeros_like(self.rhythm), present=torch.zeros_like(self.present))

    def drop(self, dropped: torch.Tensor) -> "VisualConditions":
        """Drops the condition of the rows where `dropped` [B] is True."""
        keep = ~dropped
        return replace(self, cls=self.cls * keep.view(-1, 1, 1), cls_mask=self.cls_mask * keep.view(-1, 1),
                       rhythm=self.rhythm * keep.view(-1, 1, 1), present=self.present & keep)

    def to(self, device) -> "VisualConditions":
        return VisualConditions(*(t.to(device) for t in (self.cls, self.cls_steps, self.cls_mask,
                                                          self.rhythm, self.present)))

    @staticmethod
    def cat(items: list["VisualConditions"]) -> "VisualConditions":
        return VisualConditions(
            cls=torch.cat([c.cls for c in items]), cls_steps=torch.cat([c.cls_steps for c in items]),
            cls_mask=torch.cat([c.cls_mask for c in items]), rhythm=torch.cat([c.rhythm for c in items]),
            present=torch.cat([c.present for c in items]))
