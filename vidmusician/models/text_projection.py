"""The backbone's text conditioners without their text encoders.

MusicGen conditions on text through a T5 encoder (t5-base, 110 M parameters, fetched from the hub by
name whatever directory the LM itself came from) and a linear `output_proj` into the LM's width.
VidMusician's visual tokens take the text prompt's place, so only `output_proj` is kept: it
initialises the semantic projector (models/semantic.py), and projects text prompts, which the
semantic adapter's own T5 encodes (models/prompts.py). Asking one of these conditioners itself for
text fails with a message saying so.
"""
from __future__ import annotations

from omegaconf import DictConfig
from torch import nn

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.modules.conditioners import TextConditioner

TEXT_ENCODER_MODELS = ("t5",)


class TextProjection(TextConditioner):
    def __init__(self, key: str, output_proj: nn.Linear):
        super().__init__(output_proj.in_features, output_proj.out_features)
        self.key = key
        self.output_proj = output_proj

    def tokenize(self, *_):
        raise RuntimeError(f"the backbone's {self.key!r} text conditioner was loaded without its text "
                           "encoder: text prompts go through VidMusician.condition_tensors (models/prompts.py)")

    forward = tokenize


def without_text_encoders(cfg: DictConfig, state: dict) -> tuple[DictConfig, list[str]]:
    """The LM's xp.cfg with each text-encoder conditioner replaced by a one-entry lookup table of the
    encoder's width (audiocraft builds that without any download), and the replaced keys. The
    release's `output_proj` weights load into it unchanged; TextProjection then takes its place."""
    replaced = []
    for key, cond in cfg.conditioners.items():
        if key == "args" or cond.get("model") not in TEXT_ENCODER_MODELS:
            continue
        width = state[f"condition_provider.conditioners.{key}.output_proj.weight"].shape[1]
        cfg.conditioners[key] = {"model": "lut", "lut": {"n_bins": 1, "dim": int(width), "tokenizer": "noop"}}
        replaced.append(str(key))
    return cfg, replaced
