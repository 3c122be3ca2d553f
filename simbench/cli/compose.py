"""Kept for imports from before :mod:`simbench.config.compose` (the one compose helper) moved there."""

from simbench.config.compose import check_all, compose_dict, compose_run, expand, output_dir

__all__ = ["check_all", "compose_dict", "compose_run", "expand", "output_dir"]
