"""Both sides of the torchaudio decision: a torchaudio that imports is used as is; one that is
missing or broken (a CUDA-linked wheel next to a CPU torch) is replaced by the stand-in, and
audiocraft's MusicGen still imports and builds. Each case runs in a fresh interpreter."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent("""
    import sys
    from vidmusician.compat.torchaudio_shim import ensure_torchaudio, is_shim
    module = ensure_torchaudio()
    print("SHIM" if is_shim(module) else "REAL:" + getattr(module, "__version__", "?"))
    from vidmusician.config import load_config
    from vidmusician.models.backbone import build_random
    backbone, _ = build_random(load_config([]).model.musicgen)
    print("MUSICGEN_OK", type(backbone.lm).__name__)
    if is_shim(module):
        from torchaudio.transforms import MelSpectrogram
        try:
            MelSpectrogram(16000)
        except ImportError as err:
            print("SHIM_RAISES:", err)
""")


def run_probe(extra_path: str | None) -> str:
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = extra_path + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def fake_torchaudio(tmp_path, body: str) -> str:
    pkg = tmp_path / "torchaudio"
    (pkg / "transforms").mkdir(parents=True)
    (pkg / "__init__.py").write_text(body)
    (pkg / "transforms" / "__init__.py").write_text("class MelSpectrogram:\n    pass\nclass Spectrogram:\n    pass\n")
    return str(tmp_path)


def test_a_torchaudio_that_imports_is_used(tmp_path):
    out = run_probe(fake_torchaudio(tmp_path, "__version__ = 'importable-test-build'\n"))
    assert "REAL:importable-test-build" in out and "MUSICGEN_OK LMModel" in out


def test_a_broken_torchaudio_is_replaced_by_the_stand_in(tmp_path):
    broken = "raise OSError('libc10_cuda.so: cannot open shared object file')\n"
    out = run_probe(fake_torchaudio(tmp_path, broken))
    assert "SHIM" in out and "MUSICGEN_OK LMModel" in out
    assert "SHIM_RAISES:" in out and "libc10_cuda.so" in out


def test_this_environment_resolves_torchaudio():
    out = run_probe(None)
    assert "MUSICGEN_OK LMModel" in out
