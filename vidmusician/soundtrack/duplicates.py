"""The same content under several inputs of one run is soundtracked once. The prepare stage lets the
first input that claims a content hash own it (ContentClaims, one small actor per run); every other
input with that content comes through marked `duplicate_of` the owner and takes the owner's outcome
here, in the driver, once the owner's arrives: its soundtrack reused, or the same error, or not done."""
from __future__ import annotations

from collections import defaultdict

import ray

from vidmusician.video.rows import STATUS_NOT_DONE, STATUS_OK

# What a duplicate keeps of its own row when it takes its owner's outcome.
OWN_KEYS = ("video_id", "source_uri", "meta", "decode_s", "decode_node", "duplicate_of", "run_id")


@ray.remote(num_cpus=0)
class ContentClaims:
    def __init__(self):
        self.owners: dict[str, str] = {}

    def claim(self, content_hash: str, video_id: str) -> str:
        """The owner of the content: the first input that claimed it (a retried claim gets the same)."""
        return self.owners.setdefault(content_hash, video_id)


class Duplicates:
    """Holds the duplicates whose owner has no outcome yet; releases them with the owner's."""

    def __init__(self):
        self.waiting: dict[str, list[dict]] = defaultdict(list)
        self.outcomes: dict[str, dict] = {}

    def resolve(self, row: dict) -> list[dict]:
        """The outcomes final now: `row`'s (unless it waits for its owner) and those of the duplicates
        that waited for `row`."""
        owner = row.get("duplicate_of")
        if owner and row["status"] == STATUS_OK:
            if owner in self.outcomes:
                return [follow(row, self.outcomes[owner])]
            self.waiting[owner].append(row)
            return []
        self.outcomes[row["video_id"]] = row
        return [row] + [follow(d, row) for d in self.waiting.pop(row["video_id"], [])]

    def orphans(self) -> list[dict]:
        """Duplicates whose owner never came (the run stopped first): not done, for the next run."""
        left = [{**d, "status": STATUS_NOT_DONE, "reason": f"same content as {owner}, which has no outcome yet"}
                for owner, rows in self.waiting.items() for d in rows]
        self.waiting.clear()
        return left


def follow(duplicate: dict, owner: dict) -> dict:
    if owner["status"] == STATUS_OK:
        return {**owner, **{k: duplicate[k] for k in OWN_KEYS}, "reused": True}
    return {**duplicate, "status": owner["status"],
            "reason": f"same content as {owner['video_id']}: {owner['reason']}"}
