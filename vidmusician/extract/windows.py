"""The training windows of a video (generation plans its own windows: models/generation.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class WindowSpan:
    index: int
    start_s: float
    end_s: float     # nominal end (start + window): the padded length
    valid_s: float   # how much of it is real content


def plan_training_windows(duration_s: float, window_s: float, hop_s: float) -> list[WindowSpan]:
    """Windows of window_s every hop_s; the last partial window is kept (and padded downstream)."""
    if duration_s <= window_s:
        count = 1
    else:
        count = math.ceil((duration_s - window_s) / hop_s - 1e-9) + 1
    spans = []
    for i in range(count):
        start = i * hop_s
        spans.append(WindowSpan(i, start, start + window_s, min(window_s, duration_s - start)))
    return spans
