"""An sshd on 127.0.0.1 with generated keys, for testing the labgrid SSH path without a board.

``LocalSshd(workdir).start()`` writes a host key, a client key and a config into ``workdir``,
authorizes the client key for the current user, starts ``sshd -D`` on a free port and returns
once it accepts connections; :meth:`stop` ends it. :func:`write_env` writes a labgrid environment
(NetworkService + SSHDriver) pointing at it. ``python hil/nightly/sshd.py DIR`` starts one and
prints the environment file's path (Ctrl-C stops it).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from simbench.hil.board import stop_process


def sshd_binary() -> str | None:
    found = shutil.which("sshd") or next(
        (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if Path(p).is_file()), None
    )
    return str(Path(found).resolve()) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalSshd:
    def __init__(self, workdir: Path) -> None:
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.host_key = self.dir / "host_ed25519"
        self.keyfile = self.dir / "client_ed25519"
        self.username = getpass.getuser()
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> int:
        binary = sshd_binary()
        if binary is None:
            raise RuntimeError("sshd is not installed (apt-get install openssh-server)")
        for key in (self.host_key, self.keyfile):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        authorized = self.dir / "authorized_keys"
        authorized.write_text(self.keyfile.with_suffix(".pub").read_text())
        os.chmod(authorized, 0o600)
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
        self.port = free_port()
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {authorized}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    "Subsystem sftp internal-sftp",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        self.proc = subprocess.Popen(
            [binary, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"sshd exited: {err.strip()[-300:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(4) == b"SSH-":
                        return self.port
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"sshd did not accept connections on 127.0.0.1:{self.port} within {timeout_s:g} s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


def write_env(path: Path, port: int, username: str, keyfile: Path, address: str = "127.0.0.1") -> Path:
    """A labgrid environment with one target ``main``: NetworkService + SSHDriver."""
    path.write_text(
        "\n".join(
            [
                "targets:",
                "  main:",
                "    resources:",
                "      NetworkService:",
                f"        address: '{address}'",
                f"        username: '{username}'",
                f"        port: {int(port)}",
                "    drivers:",
                "      SSHDriver:",
                f"        keyfile: '{keyfile}'",
                "",
            ]
        )
    )
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python hil/nightly/sshd.py DIR", file=sys.stderr)
        sys.exit(2)
    sshd = LocalSshd(Path(sys.argv[1]))
    port = sshd.start()
    env = write_env(sshd.dir / "env.yaml", port, sshd.username, sshd.keyfile)
    print(f"sshd on 127.0.0.1:{port}; labgrid environment: {env}", flush=True)
    try:
        assert sshd.proc is not None
        sshd.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sshd.stop()
