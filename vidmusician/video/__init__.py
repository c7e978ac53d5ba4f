"""The per-video layer both pipelines (extract/, soundtrack/) and the trainer's features share: what
an input is (inputs.py), opening and sampling a video (frames.py), its content hash (content.py), the
row every stage passes on and its statuses (rows.py), how a failure becomes a row's reason
(errors.py), and the per-video features of the two adapter paths (features.py, the only torch here)."""
