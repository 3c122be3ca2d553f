"""Training ACT on a recorded LeRobot dataset: tensors (``data``), the loop (``trainer``) and the
closed-loop success evaluation that picks the checkpoint (``evaluate``)."""
