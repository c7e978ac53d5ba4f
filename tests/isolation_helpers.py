"""Generators for the isolated-decoder tests, in a module that imports nothing heavy: the child process
imports the module of the function it runs, and that import counts against the decoder's time limit."""
from __future__ import annotations

import time

import numpy as np

from vidmusician.video.frames import DecodeError


def counting(n: int, pause_s: float = 0.0):
    for i in range(n):
        time.sleep(pause_s)
        yield np.full(3, i)


def raising():
    yield 1
    raise DecodeError("decoding failed at 1.00 s (bad packet)")
