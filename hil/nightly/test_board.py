"""The board, over labgrid: the agent installs or updates, starts, and says hello.

pytest --lg-env hil/nightly/env.yaml -m hil hil/nightly
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.hil


def test_agent_installed_matches_this_checkout(ssh: Any, installed: str, agent_dir: str, python: str) -> None:
    from simbench_agent import __version__

    out = ssh.run_check(f"env PYTHONPATH={agent_dir} {python} -m simbench_agent --version")
    assert out[0].strip().startswith(f"simbench-agent {__version__}")
    assert ssh.run_check(f"cat {agent_dir}/SOURCE_SHA256")[0].strip() == installed


def test_agent_answers_hello(agent: Any) -> None:
    from simbench_agent import __version__

    from simbench.hil.client import BoardClient

    with BoardClient(agent.address, agent.port, agent.token, timeout_s=10.0) as client:
        assert client.facts["name"] == "nightly-board"
        assert client.facts["agent_version"] == __version__
        assert client.facts["cpu_cores"] >= 1


def test_wrong_token_is_refused(agent: Any) -> None:
    from simbench.hil.client import BoardClient, BoardError

    with pytest.raises(BoardError, match="token refused"):
        BoardClient(agent.address, agent.port, "0" * 64, timeout_s=10.0)
