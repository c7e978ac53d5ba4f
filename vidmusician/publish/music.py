"""Whether a source's own sound is music, for the `keep` policy: an AudioSet audio classifier in
transformers' format (`soundtrack.publish.music_detector`; the GPU presets name MIT's AST fine-tuned on
AudioSet, whose 527 labels include "Music") over windows of the source's audio. AudioSet is
multi-label, so each label's probability is a sigmoid. A window counts as music when one of
`music_labels` reaches `music_threshold`; the source is music when at least `music_min_fraction` of
its windows do. The model is read once per process, from where `weights.py` puts it."""
from __future__ import annotations

import functools

import librosa
import numpy as np

from vidmusician.config.schema import Config

KEY = "soundtrack.publish.music_detector"
# Windows classified per forward pass.
BATCH_WINDOWS = 8
# A last window shorter than this is left out (unless it is the only one): too little to classify.
MIN_WINDOW_S = 1.0


@functools.cache
def _classifier(name: str):
    """(feature extractor, model, label ids by name) of a local folder or hub id (torch imported here:
    the prepare stage only needs it where a source is listened to)."""
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from vidmusician.embedded import is_directory, model_path
    local = is_directory(name)
    extractor = AutoFeatureExtractor.from_pretrained(model_path(name), local_files_only=local)
    model = AutoModelForAudioClassification.from_pretrained(model_path(name), local_files_only=local).eval()
    labels = {str(label): int(i) for i, label in model.config.id2label.items()}
    return extractor, model, labels


_LOCATED: dict[tuple, str] = {}  # (name, weights location, cache dir) -> what this process loads


def detector(cfg: Config):
    """The configured classifier, its name resolved to this node's copy (weights.location) once per
    process and setting."""
    from vidmusician.storage import Storage
    from vidmusician.weights import local_name
    pub, wcfg = cfg.soundtrack.publish, cfg.weights
    setting = (pub.music_detector, wcfg.location, wcfg.cache_dir)
    if setting not in _LOCATED:
        _LOCATED[setting] = local_name(KEY, pub.music_detector, cfg, Storage(cfg.storage))
    return _classifier(_LOCATED[setting])


def windows(audio: np.ndarray, rate: int, window_s: float) -> list[np.ndarray]:
    size = max(1, round(window_s * rate))
    parts = [audio[start:start + size] for start in range(0, len(audio), size)]
    if len(parts) > 1 and len(parts[-1]) < MIN_WINDOW_S * rate:
        parts.pop()
    return parts


def music_fraction(audio: np.ndarray, rate: int, cfg: Config) -> float:
    """The fraction of the source's windows the classifier hears music in (mono `audio` at `rate`)."""
    import torch
    pub = cfg.soundtrack.publish
    extractor, model, labels = detector(cfg)
    wanted = [labels[name] for name in pub.music_labels if name in labels]
    if not wanted:
        raise ValueError(f"soundtrack.publish.music_labels={list(pub.music_labels)}: none is a label of "
                         f"{pub.music_detector} (e.g. {sorted(labels)[:5]})")
    audio = np.asarray(audio, np.float32)
    if rate != extractor.sampling_rate:  # AST reads 16 kHz, the rate the speech detector reads too
        audio = librosa.resample(audio, orig_sr=rate, target_sr=extractor.sampling_rate)
        rate = extractor.sampling_rate
    parts = windows(audio, rate, pub.music_window_s)
    heard = []
    with torch.no_grad():
        for first in range(0, len(parts), BATCH_WINDOWS):
            inputs = extractor(parts[first:first + BATCH_WINDOWS], sampling_rate=rate, return_tensors="pt")
            probs = torch.sigmoid(model(**inputs).logits.float())[:, wanted]
            heard += (probs.max(dim=1).values >= pub.music_threshold).tolist()
    return float(np.mean(heard))
