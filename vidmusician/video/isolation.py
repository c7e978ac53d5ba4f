"""Decoding in a separate process, so that a decoder that hangs or crashes in native code on a damaged
stream (FFmpeg can) costs one video, not the worker: the decoder process streams what
it decodes back through a pipe, one silent for longer than the limit is killed ("timed out"), and one
that dies is reported by its signal ("decoder crashed"). Both are the video's final error rows.

Each worker keeps one decoder process and sends it one video at a time: a fresh interpreter per video
would import numpy, PyAV and (under Ray) the worker's own main module every time, seconds per video. A
decoder that was killed, died, or was left mid-video by its caller is replaced on the next call."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any, Callable, Iterator, Optional

from vidmusician.config.validate import INJECTED_FAULTS
from vidmusician.video.errors import InputError

# Test hooks (video.fault_injection): what the decoder does instead of decoding.
HANG, CRASH = INJECTED_FAULTS
_ITEM, _DONE, _ERROR = "item", "done", "error"


class DecodeTimeout(InputError):
    """The decoder made no progress within the time limit."""


class DecoderCrashed(InputError):
    """The decoder process died (a signal or an exit) before it finished."""


class DecoderKilled(DecoderCrashed):
    """The decoder process was killed from outside (SIGKILL: the kernel's out-of-memory killer, most
    likely): the machine's fault, not the video's, so faults.py counts it as an infrastructure fault."""


class DecoderUnavailable(RuntimeError):
    """No decoder process could be started (out of memory or processes): the machine's fault, retried
    (faults.py), never the video's error row."""


def _inject(fault: str) -> None:
    if fault == HANG:
        time.sleep(10 ** 6)
    if fault == CRASH:
        os.kill(os.getpid(), signal.SIGSEGV)


def _run(conn, fn: Callable[..., Iterator[Any]], args: tuple, fault: str) -> None:
    try:
        _inject(fault)
        for item in fn(*args):
            conn.send((_ITEM, item))
        conn.send((_DONE, None))
    except Exception as err:  # handed to the parent, which raises it as the decoder's own error
        try:
            conn.send((_ERROR, err))
        except Exception:  # an exception that does not pickle: its text
            conn.send((_ERROR, InputError(f"{type(err).__name__}: {err}")))


def _serve(conn) -> None:
    """The decoder process: one request (fn, args, fault) at a time until the pipe closes."""
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        _run(conn, *request)


class _Decoder:
    def __init__(self):
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter: a Ray worker's threads do not fork
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        try:
            self.proc.start()
        except OSError as err:  # fork/exec refused: EAGAIN, ENOMEM
            self.conn.close()
            child.close()
            raise DecoderUnavailable(f"cannot start a decoder process ({err})") from err
        child.close()  # the decoder holds the only other end: its death ends the pipe
        self.busy = False  # a call is reading its answers

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


_decoder: Optional[_Decoder] = None


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"decoder crashed ({signal.Signals(-exitcode).name})"
    return f"decoder crashed (exit code {exitcode})"


def isolated(fn: Callable[..., Iterator[Any]], args: tuple, timeout_s: float, fault: str = "") -> Iterator[Any]:
    """Yields what the generator `fn(*args)` yields, run in this worker's decoder process. `fn` must be
    a module-level function (it is pickled). Raises DecodeTimeout when the decoder yields nothing for
    `timeout_s`, DecoderCrashed when it dies, and the decoder's own exception when it raises one."""
    global _decoder
    if _decoder is not None and (_decoder.busy or not _decoder.proc.is_alive()):
        _decoder.stop()  # a call left it mid-video without closing: its answers would come first
        _decoder = None
    if _decoder is None:
        _decoder = _Decoder()
    decoder, finished = _decoder, False
    decoder.busy = True
    try:
        decoder.conn.send((fn, args, fault))
        while True:
            if not decoder.conn.poll(timeout_s):
                raise DecodeTimeout(f"decoder timed out after {timeout_s:g} s without progress")
            try:
                kind, value = decoder.conn.recv()
            except EOFError:
                decoder.proc.join()
                if decoder.proc.exitcode == -signal.SIGKILL:
                    raise DecoderKilled("decoder killed (SIGKILL, out of memory?)") from None
                raise DecoderCrashed(_death(decoder.proc.exitcode)) from None
            if kind == _ITEM:
                yield value
                continue
            finished, decoder.busy = True, False
            if kind == _ERROR:
                raise value
            return
    finally:
        if not finished:  # timed out, died, or its caller stopped early: the next call starts afresh
            decoder.stop()
            if _decoder is decoder:
                _decoder = None
