"""The nightly bulk soundtracking job: videos -> CPU decode -> generation actor pool (CLIP features,
batched CFG, sliding windows, audio decode) -> CPU writers (wav, muxed mp4, scores) -> score table,
review page and summary. Outputs are keyed by content hash + model version, so reruns resume."""
