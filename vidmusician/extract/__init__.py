"""The feature-extraction job: videos -> training windows (frames and the prepared music track) ->
CLIP and codec features -> Parquet shards in the format of `format.py`, one outcome per input. The
per-video work comes from vidmusician/video/; `pipeline.py` only wires the stages into Ray Data."""
