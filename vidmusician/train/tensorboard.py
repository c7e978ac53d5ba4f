"""Training metrics in TensorBoard's format (tensorboardX event files), written locally by rank 0 and
copied to the run's directory in object storage on every flush, so `tensorboard --logdir` reads them
from a local copy or an s3:// mount. A restarted worker writes a new event file beside the old one."""
from __future__ import annotations

import tempfile
from pathlib import Path

from tensorboardX import SummaryWriter

from vidmusician.storage import Storage, join_uri


class EventLog:
    def __init__(self, target_uri: str, storage: Storage):
        self.target_uri, self.storage = target_uri, storage
        self.local = tempfile.mkdtemp(prefix="vidmusician-tb-")
        self.writer = SummaryWriter(self.local)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, step)

    def flush(self) -> None:
        self.writer.flush()
        for path in Path(self.local).iterdir():
            self.storage.upload_file(str(path), join_uri(self.target_uri, path.name))

    def close(self) -> None:
        self.flush()
        self.writer.close()

