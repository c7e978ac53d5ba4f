"""The VidMusician model: plain PyTorch on top of audiocraft's MusicGen, usable without Ray."""
import logging

from vidmusician.compat.torchaudio_shim import ensure_torchaudio

# audiocraft imports torchaudio at module level; make sure that import resolves before anything
# below pulls audiocraft in (see vidmusician/compat/torchaudio_shim.py for why).
ensure_torchaudio()
# audiocraft imports xformers, whose compiled kernels exist only for the CUDA torch it was built with;
# elsewhere its import warns (6 lines) in every process, Ray workers included. audiocraft calls those
# kernels only with `memory_efficient: true`, which our backbones never set; errors still show.
logging.getLogger("xformers").setLevel(logging.ERROR)
