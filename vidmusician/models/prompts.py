"""Text prompts (a style, a mood, instruments) beside the video, encoded the way MusicGen encodes its
own text: T5's tokenizer, the T5 encoder, the backbone's text projection (`output_proj`), padded
positions zeroed. The T5 is the semantic adapter's, run with its LoRA switched off: that is t5-base as
MusicGen's conditioner loads it, so a prompt lands where the frozen LM learnt to read text. The
prompt's tokens follow the video's tokens in the cross-attention sequence, and a dropped condition
(CFG's null branch) drops both. The adapters are never trained with prompts: the video still leads,
and the prompt steers what the backbone already knows how to follow.

Backbones whose condition is a lookup table (the random and toy presets) take the prompt through that
table instead (models/vidmusician.py): any text then picks one of its entries.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoTokenizer

from vidmusician.embedded import is_directory, model_path

# What a T5 folder holds its tokenizer in (t5-base ships both; `weights.py` copies the json).
TOKENIZER_FILES = ("tokenizer.json", "spiece.model")


class PromptsUnsupported(RuntimeError):
    """The model cannot read text prompts (no T5 tokenizer where its T5 came from)."""


class PromptEncoder:
    """Not a module: it holds a tokenizer, no weights (the T5 and the projection are passed in)."""

    def __init__(self, tokenizer_source: str | None):
        """tokenizer_source: the T5's hub id or local directory (its tokenizer.json); None when the T5 is
        built from config, which has no tokenizer."""
        self.source = tokenizer_source
        self._tokenizer = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:  # loaded on the first prompt: jobs without prompts never read it
            if not self.source:
                raise PromptsUnsupported("text prompts need a pretrained T5 (model.t5.pretrained) with its "
                                         "tokenizer; this model's T5 is built from config")
            local = is_directory(self.source)
            # transformers builds an empty T5 tokenizer (every word unknown) from a folder without one
            if local and not any((Path(model_path(self.source)) / f).is_file() for f in TOKENIZER_FILES):
                raise PromptsUnsupported(f"no T5 tokenizer in {self.source!r} (none of {list(TOKENIZER_FILES)})")
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(model_path(self.source), local_files_only=local)
            except (OSError, ValueError) as err:
                raise PromptsUnsupported(f"no T5 tokenizer in {self.source!r}: {err}") from err
        return self._tokenizer

    def encode(self, t5: nn.Module, output_proj: nn.Linear,
               texts: list[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, L, lm_dim] prompt tokens and their mask [B, L]; a row without a prompt is all masked.
        t5: the semantic adapter's LoRA-wrapped T5 (peft), run with the adapter disabled."""
        entries = [t or "" for t in texts]
        inputs = self.tokenizer(entries, return_tensors="pt", padding=True)
        device = output_proj.weight.device
        ids, attention = inputs["input_ids"].to(device), inputs["attention_mask"].to(device)
        with t5.disable_adapter():
            hidden = t5(input_ids=ids, attention_mask=attention).last_hidden_state
        mask = attention * torch.tensor([bool(t) for t in texts], device=device).view(-1, 1)
        tokens = output_proj(hidden.to(output_proj.weight.dtype))
        return tokens * mask.unsqueeze(-1).to(tokens.dtype), mask
