"""Stand-in for torchaudio, used only when the real one cannot be imported.

Why: audiocraft imports torchaudio at module level (data/audio_utils.py, modules/chroma.py,
losses/specloss.py), but MusicGen's generation and LM training paths never call it. The registry's
torchaudio wheels are linked against CUDA torch and fail to import next to the CPU torch this project
pins (`libc10_cuda.so` missing). Rather than pull a multi-GB CUDA torch to satisfy an import,
`ensure_torchaudio()` tries the real package first and, only if that fails, registers this module
under the name `torchaudio`. Every torchaudio feature reached through it raises an error that names
the original import failure, so nothing silently computes something different.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types

SHIM_MARKER = "__vidmusician_shim__"
# The torchaudio names audiocraft touches; touching them through the shim raises.
_TRANSFORMS = ("Spectrogram", "MelSpectrogram", "Loudness", "Resample")


class TorchaudioUnavailable(ImportError):
    pass


def _unavailable_class(name: str, reason: str) -> type:
    def __init__(self, *args, **kwargs):
        raise TorchaudioUnavailable(
            f"torchaudio.transforms.{name} is needed here, but torchaudio could not be imported "
            f"({reason}); install a torchaudio build that matches the installed torch")

    return type(name, (), {"__init__": __init__})


def _build_shim(reason: str) -> types.ModuleType:
    shim = types.ModuleType("torchaudio")
    shim.__doc__ = __doc__
    setattr(shim, SHIM_MARKER, True)
    shim.import_error = reason
    transforms = types.ModuleType("torchaudio.transforms")
    for name in _TRANSFORMS:
        setattr(transforms, name, _unavailable_class(name, reason))
    shim.transforms = transforms
    # A package with a spec, so `from torchaudio.transforms import X` resolves through sys.modules and
    # importlib.util.find_spec (which transformers calls) does not trip over a missing __spec__.
    shim.__path__ = []
    shim.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None, is_package=True)
    transforms.__spec__ = importlib.machinery.ModuleSpec("torchaudio.transforms", None)
    return shim


def ensure_torchaudio() -> types.ModuleType:
    """Returns the real torchaudio if it imports, else registers and returns the stand-in."""
    existing = sys.modules.get("torchaudio")
    if existing is not None:
        return existing
    try:
        return importlib.import_module("torchaudio")
    except Exception as err:  # ImportError, or OSError from a CUDA-linked build on a CPU torch
        for key in [k for k in sys.modules if k == "torchaudio" or k.startswith("torchaudio.")]:
            del sys.modules[key]
        shim = _build_shim(f"{type(err).__name__}: {err}")
        sys.modules["torchaudio"] = shim
        sys.modules["torchaudio.transforms"] = shim.transforms
        _tell_transformers()
        return shim


def _tell_transformers() -> None:
    """transformers decides whether torchaudio is there with find_spec, which finds the shim; its audio
    feature extractors (AST's, for the music detector) would then import torchaudio.compliance and
    fail. Told the truth, they take their own numpy paths."""
    try:
        import transformers.utils as tf_utils
        import transformers.utils.import_utils as tf_import_utils
    except ImportError:
        return
    for module in (tf_utils, tf_import_utils):
        for name in ("is_torchaudio_available", "is_speech_available"):
            if hasattr(module, name):
                setattr(module, name, _unavailable)


def _unavailable(*_args, **_kwargs) -> bool:
    return False


def is_shim(module: types.ModuleType) -> bool:
    return bool(getattr(module, SHIM_MARKER, False))
