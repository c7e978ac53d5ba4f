"""What turns generated music into a publishable sound track: loudness and true peak (loudness.py),
fades that land with the video (fades.py), the source's own audio and speech (speech.py) and the mix
policies (mix.py). FFmpeg's filters (through PyAV) do the audio processing; no torch except the
speech detector's."""
