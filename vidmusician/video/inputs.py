"""What a job reads: a URI prefix (every video below it) or a manifest file (parquet, CSV or JSONL with
a `uri` column and optional `video_id` and metadata columns)."""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pyarrow.csv as pacsv

from vidmusician.storage import Storage, uri_problem

MANIFEST_SUFFIXES = (".parquet", ".csv", ".jsonl")
# The key of a manifest row that could not be read as one (its problem).
BAD_ROW = "_unreadable"
# Scalar columns every input row carries through the pipeline.
INPUT_KEYS = ("video_id", "uri", "meta")


class InputListError(ValueError):
    """The job's `input=` cannot be read as a list of videos (empty, no `uri` column)."""


@dataclass
class InputList:
    items: list[dict]  # the inputs to process: video_id, uri, meta
    # Manifest rows that are not inputs (no usable URI, a video id already taken), each with its
    # `reason`: they are error rows of every run, never processed.
    rejected: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items) + len(self.rejected)


def default_video_id(uri: str) -> str:
    """The file's stem, plus a short hash of the full URI so that equal stems in different folders
    stay distinct."""
    stem = PurePosixPath(uri.split("://", 1)[-1]).stem
    return f"{stem}-{hashlib.sha1(uri.encode()).hexdigest()[:8]}"


def _read_manifest(storage: Storage, uri: str) -> list[dict]:
    if uri.endswith(".parquet"):
        table = storage.read_parquet(uri)
    elif uri.endswith(".csv"):
        table = pacsv.read_csv(io.BytesIO(storage.read_bytes(uri)))
    else:  # JSON lines stay Python values: a bad line or value is that row's problem, not the file's
        rows = []
        for number, line in enumerate(storage.read_bytes(uri).decode(errors="replace").splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    row = {BAD_ROW: f"manifest line {number} is not JSON ({err.msg})"}
                rows.append(row if isinstance(row, dict) else {BAD_ROW: f"manifest line {number} is not an object"})
        if rows and not any("uri" in r for r in rows):
            raise InputListError(f"{uri}: manifest has no 'uri' field")
        return rows
    if "uri" not in table.column_names:
        raise InputListError(f"{uri}: manifest has no 'uri' column (columns: {table.column_names})")
    return table.to_pylist()


def resolve_inputs(input_uri: str, storage: Storage, video_suffixes: list[str]) -> InputList:
    """One row per input: video_id, uri, meta (JSON of the manifest's other columns). A manifest row
    without a usable URI, or whose video id an earlier row has, is rejected with its reason (two
    outcomes under one id could not be told apart); the first row with an id keeps it."""
    if not input_uri:
        raise InputListError("input= is empty: give a URI prefix or a manifest file")
    if input_uri.endswith(MANIFEST_SUFFIXES):
        rows = _read_manifest(storage, input_uri)
    else:
        rows = [{"uri": u} for u in storage.list(input_uri, suffixes=tuple(video_suffixes))]
    first: dict[str, int] = {}
    out = InputList([])
    for number, row in enumerate(rows, start=1):
        uri = row.pop("uri", None)
        problem = row.pop(BAD_ROW, None) or uri_problem(uri)
        vid = str(row.pop("video_id", None) or (f"row-{number}" if problem else default_video_id(uri)))
        item = {"video_id": vid, "uri": "" if uri is None else str(uri),
                "meta": json.dumps(row, sort_keys=True, default=str)}
        if vid in first:
            problem = f"duplicate video_id {vid!r} (first in manifest row {first[vid]})"
        if problem:
            out.rejected.append({**item, "reason": f"input: {problem}"})
            continue
        first[vid] = number
        out.items.append(item)
    return out