"""Bring your own policy: import a LeRobot ACT checkpoint, run any ONNX chunk policy, replay a dataset.

* :mod:`simbench.byo.lerobot_checkpoint` reads a LeRobot ``pretrained_model/`` folder (numpy only).
* :mod:`simbench.byo.lerobot_act` is LeRobot's ACT network as torch modules named like LeRobot's, so
  its weights load strictly by LeRobot's parameter names (torch: ``[train]``).
* :mod:`simbench.byo.import_lerobot` folds the normalization into the graph and writes ONNX plus
  precision variants with the contract's metadata (``python -m simbench import-lerobot``).
* :mod:`simbench.policies.chunk_contract` is the ONNX chunk-policy contract (docs/byo-policy.md), checked before
  any run; :mod:`simbench.policies.onnx_chunk` runs a model that keeps it (``+policy=onnx``).
* :mod:`simbench.byo.replay` plays a LeRobotDataset v3 through the scheduler, open loop
  (``python -m simbench replay``).
"""
