"""Decoding in a child process, so that a decoder that hangs or crashes in native code on a damaged
stream (FFmpeg and decord both can) costs one video, not the worker: the child streams what it decodes
back through a pipe, a child silent for longer than the limit is killed ("timed out"), and a child that
dies is reported by its signal ("decoder crashed"). Both are the video's final error rows.

Children come from a forkserver: forking a Ray worker (threads, gRPC) is unsafe, and spawning a fresh
interpreter per video would import numpy and the decoders every time."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any, Callable, Iterator

from vidmusician.config.validate import INJECTED_FAULTS
from vidmusician.video.errors import InputError

# What the forkserver imports once, so that each child starts with the decoders loaded.
PRELOAD = ["vidmusician.video.decoding"]
# Test hooks (video.fault_injection): what the child does instead of decoding.
HANG, CRASH = INJECTED_FAULTS
_ITEM, _DONE, _ERROR = "item", "done", "error"
_context = None


class DecodeTimeout(InputError):
    """The decoder made no progress within the time limit."""


class DecoderCrashed(InputError):
    """The decoder process died (a signal or an exit) before it finished."""


def _forkserver():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _inject(fault: str) -> None:
    if fault == HANG:
        time.sleep(10 ** 6)
    if fault == CRASH:
        os.kill(os.getpid(), signal.SIGSEGV)


def _child(conn, fn: Callable[..., Iterator[Any]], args: tuple, fault: str) -> None:
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
    finally:
        conn.close()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"decoder crashed ({signal.Signals(-exitcode).name})"
    return f"decoder crashed (exit code {exitcode})"


def isolated(fn: Callable[..., Iterator[Any]], args: tuple, timeout_s: float, fault: str = "") -> Iterator[Any]:
    """Yields what the generator `fn(*args)` yields, run in a child process. `fn` must be a module-level
    function (it is pickled). Raises DecodeTimeout when the child yields nothing for `timeout_s`,
    DecoderCrashed when it dies, and the child's own exception when it raises one."""
    ctx = _forkserver()
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args, fault), daemon=True)
    proc.start()
    send.close()  # the child holds the only writer: its death ends the pipe
    try:
        while True:
            if not receive.poll(timeout_s):
                raise DecodeTimeout(f"decoder timed out after {timeout_s:g} s without progress")
            try:
                kind, value = receive.recv()
            except EOFError:
                proc.join()
                raise DecoderCrashed(_death(proc.exitcode)) from None
            if kind == _ITEM:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receive.close()
