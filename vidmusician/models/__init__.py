"""The VidMusician model: plain PyTorch on top of audiocraft's MusicGen, usable without Ray."""
from vidmusician.compat.torchaudio_shim import ensure_torchaudio

# audiocraft imports torchaudio at module level; make sure that import resolves before anything
# below pulls audiocraft in (see vidmusician/compat/torchaudio_shim.py for why).
ensure_torchaudio()
