"""Parameter counts per preset, from meta-device builds (no weights needed); `jobs/param_report.py`
prints them as the README's table."""
from __future__ import annotations

from dataclasses import dataclass

from vidmusician.config import load_config
from vidmusician.models.builders import build_model_on_meta

PAPER_TRAINABLE = 24.79e6


@dataclass
class ParamReport:
    preset: str
    lm: int
    t5: int
    clip: int
    stage1_trainable: int
    stage2_trainable: int
    rhythm: int

    @property
    def total(self) -> int:
        return self.lm + self.t5 + self.clip + self.stage2_trainable


def count(preset: str, overrides: tuple[str, ...] = ()) -> ParamReport:
    cfg = load_config([f"preset={preset}", *overrides])
    model, clip = build_model_on_meta(cfg.model)

    def trainable(stage: int) -> int:
        model.set_stage(stage)
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    lm = sum(p.numel() for n, p in model.lm.named_parameters() if not n.startswith("condition_provider."))
    t5 = sum(p.numel() for n, p in model.semantic.t5.named_parameters() if "lora_" not in n)
    rhythm = sum(p.numel() for p in model.rhythm.parameters())
    return ParamReport(preset, lm, t5, sum(p.numel() for p in clip.parameters()),
                       trainable(1), trainable(2), rhythm)


def markdown_table(presets=("small", "medium")) -> str:
    lines = ["| preset | LM (frozen) | T5 enc (frozen) | CLIP (frozen) | stage 1 trainable | "
             "stage 2 trainable | of which rhythm | vs paper 24.79 M |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for p in presets:
        r = count(p)
        lines.append(f"| {p} | {r.lm / 1e6:.1f} M | {r.t5 / 1e6:.1f} M | {r.clip / 1e6:.1f} M | "
                     f"{r.stage1_trainable / 1e6:.2f} M | {r.stage2_trainable / 1e6:.2f} M | "
                     f"{r.rhythm / 1e6:.2f} M | {r.stage2_trainable / PAPER_TRAINABLE:.2f}x |")
    return "\n".join(lines)
