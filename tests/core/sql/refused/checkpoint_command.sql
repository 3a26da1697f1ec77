-- error: CHECKPOINT is not allowed
CHECKPOINT
