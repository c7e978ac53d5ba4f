"""The toy backbone: a tiny MusicGen (EnCodec + LM) pretrained on the synthetic world's music, saved
in MusicGen's release format so the `toy` preset loads it through the same loaders as real models."""
