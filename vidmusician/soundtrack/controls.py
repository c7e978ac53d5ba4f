"""Per-video controls: manifest columns that override the job's settings for one video. Each is
checked here; a bad value is that row's error, never the job's. The effective overrides are recorded
in the row and make part of its output key, so a changed control makes new music (and an unchanged
one reuses what was made)."""
from __future__ import annotations

import hashlib
import json
import math

from vidmusician.config.validate import MIX_POLICIES, prompt_problem
from vidmusician.video.errors import InputError

# Candidates per video a manifest may ask for (each is a full generation).
MAX_CANDIDATES = 16


class ControlError(InputError):
    """A manifest column that controls the music holds a value the job cannot use."""


def _integer(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ControlError(f"control {name}={value!r}: an integer")
    if value < low or (high is not None and value > high):
        raise ControlError(f"control {name}={value!r}: from {low}" + (f" to {high}" if high is not None else ""))
    return int(value)


def _number(name: str, value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ControlError(f"control {name}={value!r}: a number")
    if not low < value < high:
        raise ControlError(f"control {name}={value!r}: between {low:g} and {high:g}")
    return float(value)


def _policy(name: str, value) -> str:
    if value not in MIX_POLICIES:
        raise ControlError(f"control {name}={value!r}: one of {list(MIX_POLICIES)}")
    return str(value)


def _prompt(name: str, value) -> str:
    problem = prompt_problem(value)
    if problem:
        raise ControlError(f"control {name}={value!r}: {problem}")
    return " ".join(value.split())  # one spelling per prompt: spacing does not make new music


# column -> its check (value -> the value to use)
CHECKS = {
    "seed": lambda v: _integer("seed", v, 0),
    "cfg_coef": lambda v: _number("cfg_coef", v, 0.0, 50.0),
    "candidates": lambda v: _integer("candidates", v, 1, MAX_CANDIDATES),
    "mix_policy": lambda v: _policy("mix_policy", v),
    "target_lufs": lambda v: _number("target_lufs", v, -70.0, 0.0),
    "prompt": lambda v: _prompt("prompt", v),
}


def parse_controls(meta_json: str) -> dict:
    """The controls a row's manifest columns set (absent or null columns fall back to the config)."""
    meta = json.loads(meta_json or "{}")
    return {name: check(meta[name]) for name, check in CHECKS.items() if meta.get(name) is not None}


def output_key(content_hash: str, controls: dict) -> str:
    """What a soundtrack's files are named by: the content, plus the controls when any are set."""
    if not controls:
        return content_hash
    return f"{content_hash}-{hashlib.sha256(json.dumps(controls, sort_keys=True).encode()).hexdigest()[:8]}"
