"""The feature pipeline's pieces. The per-video work (decoding, windowing, features) is plain Python
and numpy/torch here; `pipeline.py` only wires it into Ray Data."""
