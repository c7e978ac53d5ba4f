"""Peak memory of a job: the summed RSS of this process and all its descendants (a local Ray's GCS,
raylet and workers are children of the driver that started it), sampled on a thread."""
from __future__ import annotations

import threading
import time

import psutil

SAMPLE_S = 0.2


def tree_rss() -> int:
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def peak_during(fn) -> tuple[int, object]:
    """(peak RSS in bytes while fn ran, fn's result)."""
    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss())
            time.sleep(SAMPLE_S)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        result = fn()
    finally:
        done.set()
        thread.join()
    return peak[0], result
