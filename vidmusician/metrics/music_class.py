"""Which scene class a piece of music belongs to: a simple classifier fit on the world's real
soundtracks (log-mel statistics -> standardised logistic regression). The semantic score of the
learning proof is how often the class of generated music matches its video's class."""
from __future__ import annotations

import librosa
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

N_MELS = 48
N_FFT = 1024
HOP = 256


def music_features(wav: np.ndarray, sr: int) -> np.ndarray:
    """Mean and spread of the log-mel spectrum over time: the timbre, whatever the rhythm."""
    mel = librosa.feature.melspectrogram(y=np.asarray(wav, np.float32), sr=sr, n_fft=N_FFT, hop_length=HOP,
                                         n_mels=N_MELS)
    logmel = np.log(mel + 1e-6)
    return np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)])


class MusicClassifier:
    def __init__(self, sr: int, seed: int = 0):
        self.sr = sr
        self.model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))

    def fit(self, waves: np.ndarray, labels: list[str]) -> "MusicClassifier":
        self.model.fit(np.stack([music_features(w, self.sr) for w in waves]), labels)
        return self

    def predict(self, waves) -> list[str]:
        return list(self.model.predict(np.stack([music_features(w, self.sr) for w in waves])))
