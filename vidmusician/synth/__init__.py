"""The synthetic world: short mp4 clips whose scene class and visual events are known, with a soundtrack
whose instrument follows the class and whose percussive hits fall exactly on the visual events.

- `music`: the soundtrack alone (also used to make audio-only training clips);
- `video`: the frames;
- `media`: mp4 encoding/decoding with PyAV;
- `world`: `write_world(cfg)` writes clips + `ground_truth.parquet` through the storage layer.
"""
