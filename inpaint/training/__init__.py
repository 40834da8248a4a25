"""Training machinery shared by every training stage: batches, checkpoints with resume, early
stopping, logs, and scaling out with torchrun."""
