"""A video's content hash: the identity of its bytes, whatever its name (soundtracks are keyed by it,
and a write checks that the source did not change under it)."""
from __future__ import annotations

import hashlib

HASH_CHUNK = 1 << 20


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()
