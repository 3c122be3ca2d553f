"""Fixtures for the board suite: ``pytest --lg-env hil/nightly/env.yaml -m hil hil/nightly``.

labgrid's pytest plugin reads the environment (``--lg-env``) and gives the ``target`` fixture; here
the SSHDriver is activated on it, the agent's source is installed or updated on the board (by the
hash of its files), and the agent is started with a fresh token. Settings from the environment:
``LG_AGENT_DIR`` (default ``~/simbench-agent`` on the board), ``LG_AGENT_PORT`` (7890; 0: a free port),
``LG_AGENT_PYTHON`` (``python3`` on the board; it needs numpy, onnxruntime and msgpack).
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENT_SRC = ROOT / "hil" / "agent"
for p in (AGENT_SRC, ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hil: needs a board reached through labgrid (--lg-env)")


def agent_tarball() -> tuple[bytes, str]:
    """The agent package (pyproject + simbench_agent/*.py) as a reproducible tar.gz, and its sha256."""
    files = [AGENT_SRC / "pyproject.toml", *sorted((AGENT_SRC / "simbench_agent").glob("*.py"))]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            data = f.read_bytes()
            info = tarfile.TarInfo(str(f.relative_to(AGENT_SRC)))
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    return buf.getvalue(), digest


@dataclass
class RemoteAgent:
    address: str
    port: int
    token: str
    directory: str
    pid: int


@pytest.fixture(scope="session")
def ssh(target: Any) -> Any:
    driver = target.get_driver("SSHDriver")
    target.activate(driver)
    return driver


@pytest.fixture(scope="session")
def agent_dir(ssh: Any) -> str:
    default = "~/simbench-agent"
    directory = os.environ.get("LG_AGENT_DIR", default)
    if directory.startswith("~/"):
        home = ssh.run_check("echo $HOME")[0].strip()
        directory = f"{home}/{directory[2:]}"
    return directory


@pytest.fixture(scope="session")
def python(ssh: Any) -> str:
    return os.environ.get("LG_AGENT_PYTHON", "python3")


@pytest.fixture(scope="session")
def installed(ssh: Any, agent_dir: str) -> str:
    """Install the agent's source on the board, or update it when its hash differs; returns the hash."""
    data, digest = agent_tarball()
    out, _, code = ssh.run(f"cat {agent_dir}/SOURCE_SHA256")
    if code == 0 and out and out[0].strip() == digest:
        return digest
    ssh.run_check(f"mkdir -p {agent_dir}")
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "simbench-agent.tar.gz"
        local.write_bytes(data)
        ssh.put(str(local), f"{agent_dir}/simbench-agent.tar.gz")
    ssh.run_check(f"tar -xzf {agent_dir}/simbench-agent.tar.gz -C {agent_dir}")
    ssh.run_check(f"sh -c 'echo {digest} > {agent_dir}/SOURCE_SHA256'")
    return digest


@pytest.fixture(scope="session")
def agent(ssh: Any, target: Any, installed: str, agent_dir: str, python: str) -> Iterator[RemoteAgent]:
    """The agent started on the board with a fresh token (stopped at the end of the session)."""
    token = secrets.token_hex(32)
    port = int(os.environ.get("LG_AGENT_PORT", "7890"))
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "token"
        local.write_text(token + "\n")
        ssh.put(str(local), f"{agent_dir}/token")
    ssh.run_check(f"chmod 600 {agent_dir}/token")
    address = target.get_resource("NetworkService").address
    # Bound to the address the host reaches it at (the tether), as the systemd unit does.
    serve = (
        f"PYTHONPATH={agent_dir} nohup {python} -m simbench_agent serve --address {address} --port {port} "
        f"--token-file {agent_dir}/token --cache-dir {agent_dir}/cache --name nightly-board"
    )
    out = ssh.run_check(f"sh -c 'cd {agent_dir} && {serve} > {agent_dir}/agent.log 2>&1 < /dev/null & echo $!'")
    pid = int(out[-1].strip())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = ssh.run(f"cat {agent_dir}/agent.log")[0]
        listening = [line for line in log if line.startswith("simbench-agent listening on ")]
        if listening:
            port = int(listening[0].rsplit(":", 1)[1])  # LG_AGENT_PORT=0: the free port it picked
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the agent did not start on the board: {' | '.join(log[-5:])}")
    yield RemoteAgent(address, port, token, agent_dir, pid)
    ssh.run(f"kill {pid}")
