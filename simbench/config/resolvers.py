"""OmegaConf resolvers the configs in conf/ use, registered by whatever composes or reads them
(:mod:`simbench.config.compose` on import, :func:`simbench.config.options.load_option`), not by ``import simbench``.

``${min:a,b}`` exists so a policy can say "execute 50 ticks per inference, or the whole chunk when
a sweep makes the chunk shorter" (``n_action_steps: ${min:50,${.actions_per_chunk}}``): without it a
chunk-size sweep (``policy.actions_per_chunk=25,50,100``) would stop at the first chunk shorter than 50.

``${job_dir:${hydra:job.override_dirname}}`` names a sweep job's folder (``hydra.sweep.subdir`` in
conf/config.yaml): a readable prefix and a hash of the overrides (:func:`simbench.run_dir.job_dirname`),
so any launcher (basic, joblib, submitit, ray) gets safe, bounded, resumable job folders.
"""

from __future__ import annotations

from omegaconf import OmegaConf


def _min(*values: float) -> float:
    """The smallest number; a value that is not a number passes through unchanged, so validation
    reports the key the user set (``policy.actions_per_chunk='abc'``) instead of a resolver error."""
    odd = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float))]
    return odd[0] if odd else min(values)


def _job_dir(override_dirname: object) -> str:
    from simbench.run_dir import job_dirname

    return job_dirname("" if override_dirname is None else str(override_dirname))


def register_resolvers() -> None:
    """Idempotent: registering again (a second import, a test) replaces nothing and raises nothing."""
    if not OmegaConf.has_resolver("min"):
        OmegaConf.register_new_resolver("min", _min)
    if not OmegaConf.has_resolver("chunk_contract"):  # conf/policy/onnx.yaml: sizes read from the model's contract
        from simbench.policies.chunk_contract import contract_value

        OmegaConf.register_new_resolver("chunk_contract", contract_value)
    if not OmegaConf.has_resolver("job_dir"):
        OmegaConf.register_new_resolver("job_dir", _job_dir)
