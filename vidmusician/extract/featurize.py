"""Feature stage: an actor that loads CLIP and the codec once and turns decoded windows into training
features (CLS sequence, rhythm curve at the LM frame rate, EnCodec codes). Error and silent rows
pass through untouched."""
from __future__ import annotations

import math

import numpy as np
import torch

from vidmusician.config.schema import Config
from vidmusician.devices import model_device, set_torch_threads
from vidmusician.models.backbone import load_codec
from vidmusician.models.builders import build_clip_encoder
from vidmusician.video.features import clip_features
from vidmusician.video.rows import STATUS_OK, pack, unpack
from vidmusician.weights import local_models


class WindowFeaturizer:
    """Plain PyTorch; the Ray actor pool calls it on batches of rows."""

    def __init__(self, cfg: Config, device: str | None = None):
        set_torch_threads(cfg.ray.torch_threads)
        self.cfg = cfg
        self.device = device or model_device(cfg.device)
        models = local_models(cfg).model
        self.encoder = build_clip_encoder(models.clip, self.device, cfg.seed, cfg.precision)
        self.codec = load_codec(models.musicgen, self.device, cfg.seed)
        self.frame_rate = float(self.codec.frame_rate)
        self.sample_rate = int(self.codec.sample_rate)
        self.num_frames = math.ceil(cfg.extract.window_s * self.frame_rate - 1e-9)
        self.num_tokens = math.ceil(cfg.extract.window_s * cfg.model.semantic.fps - 1e-9)
        self.num_samples = round(cfg.extract.window_s * self.sample_rate)

    def features(self, frames: np.ndarray, has_prev: bool, audio: np.ndarray) -> dict[str, np.ndarray]:
        valid_frames = min(self.num_frames, math.ceil(len(audio) / self.sample_rate * self.frame_rate - 1e-9))
        # The frame before the window (has_prev) only served the first change value.
        cls, rhythm = clip_features(self.encoder, frames, self.cfg.model, self.frame_rate, valid_frames,
                                    skip_first=has_prev, batch_size=self.cfg.extract.clip_batch_frames)
        cls = cls[: self.num_tokens]
        rhythm = torch.nn.functional.pad(rhythm, (0, 0, 0, self.num_frames - valid_frames))
        tokens = np.zeros((self.num_tokens, cls.shape[-1]), np.float32)
        tokens[: cls.shape[0]] = cls.cpu().numpy()
        token_mask = np.zeros(self.num_tokens, np.float32)
        token_mask[: cls.shape[0]] = 1
        wav = np.zeros(self.num_samples, np.float32)
        wav[: min(len(audio), self.num_samples)] = audio[: self.num_samples]
        with torch.no_grad():
            codes = self.codec.encode(torch.from_numpy(wav).view(1, 1, -1).to(self.device))[0][0]
        codes = codes[:, : self.num_frames].cpu().numpy().astype(np.int16)
        frame_mask = np.zeros(self.num_frames, np.float32)
        frame_mask[:valid_frames] = 1
        return {"cls": tokens, "cls_mask": token_mask, "rhythm": rhythm.cpu().numpy().astype(np.float32),
                "codes": codes, "frame_mask": frame_mask}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        payloads = list(batch["payload"])
        for i, status in enumerate(batch["status"]):
            if status != STATUS_OK:
                continue
            window = unpack(payloads[i])
            payloads[i] = pack(**self.features(window["frames"], bool(window["has_prev"]), window["audio"]))
        batch["payload"] = np.array(payloads, dtype=object)
        return batch
