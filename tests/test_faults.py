"""Failure classes without Ray: what counts as an infrastructure fault, retries with backoff, the early
stop, the isolated decoder (a hang is timed out, a crash is reported, the worker survives), and
manifests with repeated ids and unusable URIs."""
from __future__ import annotations

import json
import time

import pytest

from isolation_helpers import counting, raising
from model_fixtures import debug_config
from vidmusician.faults import (InfrastructureFailure, NotDoneStreak, SourceChanged, failure, is_transient,
                                retrying)
from vidmusician.storage import AccessDenied, BucketNotFound, ObjectNotFound, Storage, StorageError
from vidmusician.video.frames import DecodeError
from vidmusician.video.inputs import resolve_inputs
from vidmusician.video.isolation import DecoderCrashed, DecodeTimeout, isolated


class OutOfMemoryError(RuntimeError):  # torch.OutOfMemoryError's name, without importing torch
    pass


@pytest.mark.parametrize("err, transient", [
    (StorageError("s3://b/k: S3 error SlowDown"), True), (AccessDenied("s3://b/k: access denied"), True),
    (BucketNotFound("s3://b/k: bucket not found"), True), (ObjectNotFound("s3://b/k: not found"), False),
    (OutOfMemoryError("CUDA out of memory"), True), (MemoryError(), True), (ConnectionResetError(), True),
    (SourceChanged("changed"), True), (DecodeError("cannot open video"), False), (DecodeTimeout("t"), False),
    (ValueError("bad"), False), (KeyError("x"), False)])
def test_infrastructure_faults_are_told_from_input_faults(err, transient):
    assert is_transient(err) == transient
    assert failure(err)[0] == ("not_done" if transient else "error")


def test_retries_back_off_then_raise_the_last_fault():
    policy = debug_config("retry.attempts=4", "retry.backoff_s=1", "retry.max_backoff_s=3").retry
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise StorageError("s3://b/k: S3 error 503")
        return "ok"

    assert retrying(flaky, policy, sleep=waits.append) == "ok" and len(calls) == 3
    assert len(waits) == 2 and all(0 <= w <= 3 for w in waits)

    calls.clear(), waits.clear()
    with pytest.raises(StorageError, match="503"):
        retrying(lambda: calls.append(1) or (_ for _ in ()).throw(StorageError("s3://b/k: S3 error 503")),
                 policy, sleep=waits.append)
    assert len(calls) == policy.attempts and len(waits) == policy.attempts - 1

    calls.clear()
    with pytest.raises(DecodeError):  # an input fault is never retried
        retrying(lambda: calls.append(1) or (_ for _ in ()).throw(DecodeError("cannot open video")), policy,
                 sleep=waits.append)
    assert len(calls) == 1


def test_a_streak_of_not_done_inputs_stops_the_job_and_names_the_cause():
    streak = NotDoneStreak(debug_config("retry.stop_after_not_done=3").retry)
    for _ in range(5):  # a success in between resets the count
        streak.update(True, "storage: s3://b/a: EndpointConnectionError (x)")
        streak.update(False)
    streak.update(True, "storage: s3://b/a: EndpointConnectionError (x)")
    streak.update(True, "generation: OutOfMemoryError: CUDA out of memory")
    with pytest.raises(InfrastructureFailure, match="3 inputs in a row.*EndpointConnectionError"):
        streak.update(True, "storage: s3://b/c: EndpointConnectionError (x)")
    NotDoneStreak(debug_config("retry.stop_after_not_done=0").retry).update(True, "x")  # 0: never stops


def test_isolated_decoder_streams_and_reports_its_errors():
    assert [int(x[0]) for x in isolated(counting, (4,), timeout_s=30)] == [0, 1, 2, 3]
    got = []
    with pytest.raises(DecodeError, match="decoding failed at 1.00 s"):
        for item in isolated(raising, (), timeout_s=30):
            got.append(item)
    assert got == [1]


@pytest.mark.parametrize("fault, error, message", [("hang", DecodeTimeout, "timed out after 2 s"),
                                                    ("crash", DecoderCrashed, "crashed \\(SIGSEGV\\)")])
def test_a_hanging_or_crashing_decoder_costs_its_video_only(fault, error, message):
    start = time.perf_counter()
    with pytest.raises(error, match=message):
        list(isolated(counting, (3,), timeout_s=2, fault=fault))
    assert time.perf_counter() - start < 10
    assert [int(x[0]) for x in isolated(counting, (2,), timeout_s=30)] == [0, 1]  # the caller goes on


def test_the_time_limit_is_about_progress_not_length():
    """A long decode that keeps producing is not killed; a silent one is."""
    assert len(list(isolated(counting, (6, 0.5), timeout_s=2))) == 6  # 3 s in all, 0.5 s between items
    with pytest.raises(DecodeTimeout):
        list(isolated(counting, (2, 3.0), timeout_s=1))


def test_manifest_rows_that_are_not_inputs_become_error_rows(tmp_path):
    rows = [{"uri": "a.mp4", "video_id": "a"}, {"uri": "b.mp4", "video_id": "a"}, {"uri": None, "video_id": "n"},
            {"uri": "", "video_id": "e"}, {"uri": "s3://bucket-only", "video_id": "s"},
            {"uri": "http://example.com/v.mp4", "video_id": "h"}, {"uri": 7}, {"uri": "c.mp4"},
            {"uri": "a.mp4", "video_id": "a"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + '\n{"uri": "d.mp4", \n[1]\n')
    inputs = resolve_inputs(str(manifest), Storage(), [".mp4"])
    assert [i["video_id"] for i in inputs.items] == ["a", "c-" + inputs.items[1]["video_id"].split("-")[1]]
    assert [i["uri"] for i in inputs.items] == ["a.mp4", "c.mp4"] and len(inputs) == len(rows) + 2
    reasons = {r["video_id"]: r["reason"] for r in inputs.rejected if r["video_id"] != "a"}
    assert reasons == {"n": "input: no URI (None)", "e": "input: no URI ('')",
                       "s": "input: malformed S3 URI 's3://bucket-only' (expected s3://bucket/key)",
                       "h": "input: unsupported URI scheme 'http' in 'http://example.com/v.mp4' (use a local "
                            "path, file:// or s3://)",
                       "row-7": "input: no URI (7)",
                       "row-10": "input: manifest line 10 is not JSON (Expecting property name enclosed in "
                                 "double quotes)",
                       "row-11": "input: manifest line 11 is not an object"}
    dupes = [r for r in inputs.rejected if r["video_id"] == "a"]
    assert [d["reason"] for d in dupes] == ["input: duplicate video_id 'a' (first in manifest row 1)"] * 2


def test_a_large_manifest_is_read_in_linear_time(tmp_path):
    """100k rows with repeats resolve in about the time of reading them (the old check was quadratic)."""
    n = 100_000
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps({"uri": f"s3://b/v{i % (n - 10)}.mp4", "video_id": f"v{i % (n - 10)}"})
                                  for i in range(n)))
    start = time.perf_counter()
    inputs = resolve_inputs(str(manifest), Storage(), [".mp4"])
    assert len(inputs.items) == n - 10 and len(inputs.rejected) == 10
    assert time.perf_counter() - start < 20


def test_a_duplicate_takes_its_originals_outcome_whenever_either_arrives():
    from vidmusician.soundtrack.duplicates import Duplicates

    def row(vid, status="ok", owner="", **kw):
        return {"video_id": vid, "source_uri": f"{vid}.mp4", "meta": "{}", "decode_s": 1.0, "decode_node": "n",
                "duplicate_of": owner, "run_id": "r", "status": status, "reason": "", "reused": False,
                "music_uri": "", **kw}

    dup = Duplicates()
    assert dup.resolve(row("b", owner="a")) == []  # waits for a
    out = dup.resolve(row("a", music_uri="m.wav"))
    assert [r["video_id"] for r in out] == ["a", "b"]
    assert out[1]["music_uri"] == "m.wav" and out[1]["reused"] and out[1]["source_uri"] == "b.mp4"
    late = dup.resolve(row("c", owner="a"))  # a is known already
    assert late[0]["music_uri"] == "m.wav" and late[0]["duplicate_of"] == "a"
    failed = Duplicates()
    failed.resolve(row("y", owner="x"))
    (x, y) = failed.resolve(row("x", status="error", reason="decode: cannot open video"))
    assert y["status"] == "error" and y["reason"] == "same content as x: decode: cannot open video"
    orphan = Duplicates()
    orphan.resolve(row("q", owner="p"))
    assert [(r["video_id"], r["status"]) for r in orphan.orphans()] == [("q", "not_done")]


def test_a_caller_that_leaves_a_video_half_read_does_not_desync_the_next():
    abandoned = isolated(counting, (5,), timeout_s=30)
    assert int(next(abandoned)[0]) == 0  # left open, still referenced
    assert [int(x[0]) for x in isolated(counting, (3,), timeout_s=30)] == [0, 1, 2]
    abandoned.close()  # its clean-up must not kill the decoder the next call uses
    assert [int(x[0]) for x in isolated(counting, (2,), timeout_s=30)] == [0, 1]


def test_a_decoder_killed_from_outside_is_an_infrastructure_fault():
    """SIGKILL is what the kernel's out-of-memory killer sends: not the video's fault, so not final."""
    import os
    import signal

    from vidmusician.video import isolation

    stream = isolated(counting, (3, 1.0), timeout_s=30)
    assert int(next(stream)[0]) == 0
    os.kill(isolation._decoder.proc.pid, signal.SIGKILL)
    with pytest.raises(isolation.DecoderKilled) as caught:
        next(stream)
    assert is_transient(caught.value) and failure(caught.value)[0] == "not_done"
    assert [int(x[0]) for x in isolated(counting, (1,), timeout_s=30)] == [0]


def test_a_decoder_that_cannot_start_is_an_infrastructure_fault(monkeypatch):
    """fork/exec refused (EAGAIN: the node is out of processes or memory) says nothing about the video."""
    import errno
    import multiprocessing.context

    from vidmusician.video import isolation

    if isolation._decoder is not None:
        isolation._decoder.stop()
        isolation._decoder = None

    def refuse(process):
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "_Popen", staticmethod(refuse))
    with pytest.raises(isolation.DecoderUnavailable) as caught:
        next(isolated(counting, (1,), timeout_s=30))
    assert is_transient(caught.value) and failure(caught.value)[0] == "not_done"
    assert isolation._decoder is None
    monkeypatch.undo()
    assert [int(x[0]) for x in isolated(counting, (2,), timeout_s=30)] == [0, 1]
