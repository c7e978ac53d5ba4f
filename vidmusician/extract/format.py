"""The feature dataset's format, in one place: what the extract job writes and the trainer reads.

    <output>/features/part-<hash>.parquet   one row per window: SCALARS, `config_hash`, then ARRAYS
                                            (Ray's fixed-shape tensor columns)
    <output>/outcomes.parquet               one row per input (ok with its window count, or error)
"""
FEATURES_DIR = "features"
OUTCOMES_NAME = "outcomes.parquet"
SCALARS = ("video_id", "uri", "content_hash", "window_index", "start_s", "end_s", "valid_s", "duration_s")
# The arrays of a window, all of which a training step reads.
ARRAYS = ("cls", "cls_mask", "rhythm", "codes", "frame_mask")
