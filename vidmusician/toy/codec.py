"""Training audiocraft's EncodecModel on the world's music: waveform L1 + multi-resolution mel L1
(torch.stft) + the RVQ commitment loss, Adam(betas 0.5, 0.9), random crops, a wall-clock budget."""
from __future__ import annotations

import librosa
import numpy as np
import torch
import torch.nn.functional as F

from vidmusician.config.schema import ToyConfig
from vidmusician.metrics.onsets import detect_hits, f1, match
from vidmusician.toy.budget import train_for

LOG_EPS = 1e-5
ADAM_BETAS = (0.5, 0.9)
HIT_TOLERANCE_S = 0.05
CODEC_LOG_EVERY = 100


class MelLoss(torch.nn.Module):
    """L1 between linear and log mel spectrograms at several FFT sizes."""

    def __init__(self, sample_rate: int, fft_sizes: list[int], n_mels: int):
        super().__init__()
        self.fft_sizes = list(fft_sizes)
        for n in self.fft_sizes:
            mel = librosa.filters.mel(sr=sample_rate, n_fft=n, n_mels=min(n_mels, n // 8))  # no empty filters at small FFTs
            self.register_buffer(f"mel_{n}", torch.from_numpy(mel).float(), persistent=False)
            self.register_buffer(f"win_{n}", torch.hann_window(n), persistent=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = x.new_zeros(())
        for n in self.fft_sizes:
            mx, my = (getattr(self, f"mel_{n}") @ torch.stft(
                s.reshape(-1, s.shape[-1]), n, hop_length=n // 4, window=getattr(self, f"win_{n}"),
                return_complex=True).abs() for s in (x, y))
            loss = loss + F.l1_loss(mx, my) + F.l1_loss(torch.log(mx + LOG_EPS), torch.log(my + LOG_EPS))
        return loss / len(self.fft_sizes)


def train_codec(codec, audio: np.ndarray, tcfg: ToyConfig, sample_rate: int, log=print) -> dict:
    codec.train()
    mel = MelLoss(sample_rate, tcfg.mel_fft_sizes, tcfg.mel_bins)
    opt = torch.optim.Adam(codec.parameters(), lr=tcfg.codec_lr, betas=ADAM_BETAS)
    gen = np.random.default_rng(tcfg.seed)
    crop = round(tcfg.codec_crop_s * sample_rate)
    data = torch.from_numpy(audio)

    def loss_fn() -> torch.Tensor:
        rows = gen.integers(0, data.shape[0], tcfg.codec_batch)
        offs = gen.integers(0, data.shape[1] - crop + 1, tcfg.codec_batch)
        x = torch.stack([data[r, o:o + crop] for r, o in zip(rows, offs)]).unsqueeze(1)
        out = codec(x)
        return tcfg.codec_l1_weight * F.l1_loss(out.x, x) + mel(out.x, x) + out.penalty

    steps, _ = train_for(tcfg.codec_minutes, opt, loss_fn, "codec", CODEC_LOG_EVERY, log)
    codec.eval()
    return {"codec_steps": steps}


@torch.no_grad()
def codec_report(codec, audio: np.ndarray, hits: list[np.ndarray], sample_rate: int) -> dict:
    """Reconstruction SNR and hit F1 (decoded vs original audio, the shared hit detector)."""
    x = torch.from_numpy(audio).unsqueeze(1)
    codes, scale = codec.encode(x)
    y = codec.decode(codes, scale)[..., :x.shape[-1]]
    noise = (y - x).pow(2).sum(-1)
    snr = 10 * torch.log10(x.pow(2).sum(-1) / noise.clamp_min(1e-12))
    f1s = []
    for orig, dec in zip(x[:, 0].numpy(), y[:, 0].numpy()):
        p, r, _ = match(detect_hits(dec, sample_rate), detect_hits(orig, sample_rate), HIT_TOLERANCE_S)
        f1s.append(f1(p, r))
    return {"codec_snr_db": float(snr.mean()), "codec_hit_f1": float(np.mean(f1s))}
