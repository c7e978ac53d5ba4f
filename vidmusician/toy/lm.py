"""Training the toy MusicGen LM over the trained codec's codes, conditioned on the scene class
through audiocraft's lookup-table conditioner (in the place of text), with its own CFG dropout."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.modules.conditioners import ConditioningAttributes

from vidmusician.config.schema import ToyConfig
from vidmusician.toy.budget import train_for

# Codes are computed in batches of this many clips (tokenise once, then train).
ENCODE_BATCH = 64
LM_LOG_EVERY = 50


@torch.no_grad()
def tokenize(codec, audio: np.ndarray) -> torch.Tensor:
    chunks = []
    for i in range(0, audio.shape[0], ENCODE_BATCH):
        x = torch.from_numpy(audio[i:i + ENCODE_BATCH]).unsqueeze(1)
        chunks.append(codec.encode(x)[0])
    return torch.cat(chunks)


def check_class_bins(lm, key: str, classes: list[str]) -> None:
    """toy-world-notes pitfall 1: the LUT's hash trick can put two class names in one bin."""
    tokens, _ = lm.condition_provider.conditioners[key].tokenize(list(classes))
    bins = tokens.view(-1).tolist()
    if len(set(bins)) != len(bins) or 0 in bins:
        raise ValueError(f"class names {classes} land in LUT bins {bins}: collisions or the pad bin; "
                         f"change model.musicgen.lm.lut_bins")


def train_lm(lm, codes: torch.Tensor, classes: list[str], key: str, tcfg: ToyConfig, log=print) -> dict:
    check_class_bins(lm, key, sorted(set(classes)))
    lm.train()
    opt = torch.optim.AdamW([p for p in lm.parameters() if p.requires_grad], lr=tcfg.lm_lr)
    gen = np.random.default_rng(tcfg.seed + 1)

    def loss_fn() -> torch.Tensor:
        rows = gen.integers(0, codes.shape[0], tcfg.lm_batch)
        attrs = [ConditioningAttributes(text={key: classes[r]}) for r in rows]
        out = lm.compute_predictions(codes[rows], attrs)
        return F.cross_entropy(out.logits[out.mask].float(), codes[rows][out.mask])

    steps, last = train_for(tcfg.lm_minutes, opt, loss_fn, "lm", LM_LOG_EVERY, log)
    lm.eval()
    return {"lm_steps": steps, "lm_final_loss": last}
