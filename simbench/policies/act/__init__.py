"""ACT policy: ``configuration_act.ACTConfig`` (shapes) and ``modeling_act.ACTPolicy`` (network)."""

from simbench.policies.act.configuration_act import ACTConfig
from simbench.policies.act.modeling_act import ACTExportModule, ACTPolicy

__all__ = ["ACTConfig", "ACTExportModule", "ACTPolicy"]
