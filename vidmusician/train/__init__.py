"""Training the adapters: plain-PyTorch step logic (batch, loop) and its Ray Train orchestration."""
