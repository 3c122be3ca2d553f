"""A Ray head on this machine for a sweep, a test or a benchmark, stopped with everything it started.

    with ray_head(num_cpus=2) as address:     # "127.0.0.1:PORT"
        ... hydra/launcher=ray hydra.launcher.address=<address> ...

It runs ``ray start --head --block`` in its own process group (GCS, raylet and workers inherit it)
and ends that group, so it never touches another Ray on the machine (``ray stop`` would).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pgid: int, head: subprocess.Popen) -> bool:
    head.poll()  # reap the head itself: a zombie still counts as a member of its group
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@contextmanager
def ray_head(num_cpus: int = 2, start_timeout_s: float = 60.0) -> Iterator[str]:
    """Start a Ray head on 127.0.0.1 with ``num_cpus`` CPUs; yields its address."""
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths must fit in 107 bytes
    port = _free_port()
    log_path = temp / "head.log"
    ray_cli = Path(sys.executable).with_name("ray")  # this interpreter's Ray, not another one on PATH
    with log_path.open("w") as log:
        head = subprocess.Popen(
            [
                str(ray_cli) if ray_cli.exists() else (shutil.which("ray") or "ray"),
                "start",
                "--head",
                "--block",
                "--node-ip-address=127.0.0.1",
                f"--port={port}",
                f"--num-cpus={num_cpus}",
                "--include-dashboard=false",
                "--disable-usage-stats",
                f"--temp-dir={temp}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + start_timeout_s
        while "Ray runtime started" not in log_path.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start failed or timed out; its log:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.25)
        yield f"127.0.0.1:{port}"
    finally:
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):  # a throwaway cluster: no state to save
            if not _alive(head.pid, head):
                break
            os.killpg(head.pid, sig)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and _alive(head.pid, head):
                time.sleep(0.25)
        head.wait(timeout=10)
        shutil.rmtree(temp, ignore_errors=True)
