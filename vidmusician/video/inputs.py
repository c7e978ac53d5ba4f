"""What a job reads: a URI prefix (every video below it) or a manifest file (parquet, CSV or JSONL with
a `uri` column and optional `video_id` and metadata columns)."""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.csv as pacsv

from vidmusician.storage import Storage

MANIFEST_SUFFIXES = (".parquet", ".csv", ".jsonl")
# Scalar columns every input row carries through the pipeline.
INPUT_KEYS = ("video_id", "uri", "meta")


class InputListError(ValueError):
    """The job's `input=` cannot be read as a list of videos (empty, no `uri` column, duplicate ids)."""


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
    else:
        data = storage.read_bytes(uri)
        table = pa.Table.from_pylist([json.loads(line) for line in data.decode().splitlines() if line.strip()])
    if "uri" not in table.column_names:
        raise InputListError(f"{uri}: manifest has no 'uri' column (columns: {table.column_names})")
    return table.to_pylist()


def resolve_inputs(input_uri: str, storage: Storage, video_suffixes: list[str]) -> list[dict]:
    """One row per input: video_id, uri, meta (JSON of the manifest's other columns). Duplicate
    video ids are an input error (two outcomes could not be told apart)."""
    if not input_uri:
        raise InputListError("input= is empty: give a URI prefix or a manifest file")
    if input_uri.endswith(MANIFEST_SUFFIXES):
        rows = _read_manifest(storage, input_uri)
    else:
        rows = [{"uri": u} for u in storage.list(input_uri, suffixes=tuple(video_suffixes))]
    out = []
    for row in rows:
        uri = str(row.pop("uri"))
        vid = str(row.pop("video_id", None) or default_video_id(uri))
        out.append({"video_id": vid, "uri": uri, "meta": json.dumps(row, sort_keys=True, default=str)})
    ids = [r["video_id"] for r in out]
    dupes = sorted({v for v in ids if ids.count(v) > 1})
    if dupes:
        raise InputListError(f"{input_uri}: duplicate video ids {dupes[:5]}")
    return out
