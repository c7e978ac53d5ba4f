"""Which device the models run on, and failing loudly when a configured GPU is not there.

A GPU worker whose CUDA does not work used to fall back to the CPU silently (100x slower, unnoticed).
Now a process asked for `cuda` that sees no CUDA device raises `DeviceUnavailable`; a job configured
for a GPU that finds none exits 2 at start with that message, unless the config says CPU."""
from __future__ import annotations

import torch

from vidmusician.config.schema import Config


class DeviceUnavailable(RuntimeError):
    """The config asks for a device this process does not have."""


def wants_gpu(cfg: Config) -> bool:
    """Whether any stage of a job's config runs on a GPU."""
    return (cfg.device.startswith("cuda") or cfg.train.use_gpu or cfg.soundtrack.num_gpus > 0
            or cfg.extract.feature_num_gpus > 0)


def _missing(what: str) -> DeviceUnavailable:
    return DeviceUnavailable(
        f"{what}, but this process sees no CUDA GPU (torch {torch.__version__}, built for CUDA "
        f"{torch.version.cuda or 'none'}); fix the GPU or its driver, or run on the CPU with device=cpu "
        "(and no GPUs asked of Ray: train.use_gpu=false, soundtrack.num_gpus=0, extract.feature_num_gpus=0)")


def model_device(requested: str) -> str:
    """The device a stage builds its models on: exactly the configured one."""
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise _missing(f"device={requested!r}")
    return requested


def check_job_devices(cfg: Config) -> None:
    """At a job's start: with a local Ray (this machine does the work), a config that wants a GPU
    needs one here. Joining a cluster, the driver may sit on a CPU-only head node; each GPU stage then
    checks its own process (model_device)."""
    if cfg.ray.address or not wants_gpu(cfg):
        return
    if not torch.cuda.is_available():
        raise _missing("the config asks for a GPU (device, train.use_gpu, soundtrack.num_gpus or "
                       "extract.feature_num_gpus) and Ray runs locally")


def caused_by_missing_device(err: BaseException) -> DeviceUnavailable | None:
    """The DeviceUnavailable behind an error, if any. Ray wraps a stage's exception in its own, and an
    actor that died in its constructor reaches the driver as text only (ActorDiedError.error_msg), so
    the chain is searched for the exception and then for its traceback line."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, DeviceUnavailable):
            return err
        for line in str(err).splitlines():
            _, marker, message = line.partition(f"{DeviceUnavailable.__name__}: ")
            if marker:
                return DeviceUnavailable(message.strip())
        seen.add(id(err))
        err = getattr(err, "cause", None) or err.__cause__ or err.__context__
    return None


def set_torch_threads(threads: int) -> None:
    """The torch threads of a stage's process (`ray.torch_threads`; training workers
    `train.torch_threads`): the CPUs it was given. Oversubscribed OpenMP threads spin against each
    other; two 2-thread processes on 2 cores made a step about 50x slower."""
    torch.set_num_threads(max(1, threads))
