"""``board=NAME``: which board to talk to, validated, and how to reach it.

``board=loopback`` starts ``simbench-agent serve`` as a subprocess on 127.0.0.1 with a free port and
a fresh token in a temporary directory, and stops it on exit (also at interpreter exit; and should
this process be killed outright, the agent sees its stdin pipe close, exits and removes the
directory: ``simbench_agent.lifeline``), so every HIL
command works, and is tested, without a board. ``board=lab`` reaches a running agent at
``board.address:board.port`` with the token in ``board.token_file``.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simbench import bounds
from simbench.errors import ConfigError, bad_value, unknown_name
from simbench.hil.client import BoardClient, BoardError

BOARD_KINDS = ("loopback", "lab")
MAX_SLOWDOWN = 1e6
"""board.slowdown (fault injection): the loopback agent's --slowdown accepts [1, 1e6]."""


@dataclass(frozen=True)
class BoardConfig:
    kind: str
    address: str
    port: int
    token_file: Path | None
    providers: tuple[str, ...]
    threads: int | None
    timeout_s: float
    connect_timeout_s: float
    max_message_bytes: int
    slowdown: float = 1.0
    max_model_bytes: int | None = None
    fault: str | None = None

    @property
    def label(self) -> str:
        return (
            f"{self.kind} ({self.address}:{self.port})"
            if self.kind != "loopback"
            else "loopback (local simbench-agent)"
        )


def _missing(value: Any) -> bool:
    return value is None or str(value) in ("???", "")


def _positive(cfg: Mapping[str, Any], key: str, default: float) -> float:
    """A board timeout: seconds > 0 and at most an hour (the shared validator, :mod:`simbench.bounds`)."""
    return bounds.seconds(cfg.get(key, default), f"board.{key}", positive=True)


def parse_board(cfg: Mapping[str, Any]) -> BoardConfig:
    """Validate the ``board`` config node; one-line :class:`ConfigError` on the first bad key."""
    kind = cfg.get("name")
    if kind not in BOARD_KINDS:
        raise unknown_name("board", kind, BOARD_KINDS)
    address = str(cfg.get("address") or "")
    if kind == "lab" and _missing(cfg.get("address")):
        raise ConfigError(
            "board.address is required with board=lab (the board's address on the tether, e.g. board.address=192.168.7.2)"
        )
    port = cfg.get("port", 0)
    if isinstance(port, bool) or not isinstance(port, int) or not (0 if kind == "loopback" else 1) <= port <= 65535:
        raise bad_value("board.port", port, "must be an integer in [1, 65535]")
    token_file = None
    if kind == "lab":
        if _missing(cfg.get("token_file")):
            raise ConfigError("board.token_file is required with board=lab (the file holding the agent's token)")
        token_file = Path(str(cfg["token_file"])).expanduser()
        if not token_file.is_file():
            raise bad_value("board.token_file", str(token_file), "must be an existing file holding the agent's token")
    providers = cfg.get("providers") or ["CPUExecutionProvider"]
    if not isinstance(providers, (list, tuple)) or not all(isinstance(p, str) and p for p in providers):
        raise bad_value("board.providers", providers, "must be a list of ONNX Runtime execution provider names")
    threads = cfg.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise bad_value("board.threads", threads, "must be an integer >= 1 or null (the policy's threads)")
    max_bytes = bounds.integer(cfg.get("max_message_bytes", 40 * 1024 * 1024), "board.max_message_bytes",
                               64 * 1024, 1 << 30)
    slowdown = cfg.get("slowdown", 1.0)
    slowdown = 1.0 if slowdown is None else bounds.number(slowdown, "board.slowdown", 1.0, MAX_SLOWDOWN)
    max_model = cfg.get("max_model_bytes")
    if max_model is not None:
        bounds.integer(max_model, "board.max_model_bytes", 1, 1 << 30)
    fault = cfg.get("fault")
    if fault not in (None, ""):  # fault injection on the loopback agent: drop:N or crash:N
        kind_, _, n = str(fault).partition(":")
        if kind != "loopback" or kind_ not in ("drop", "crash") or not n.isdigit():
            raise bad_value("board.fault", fault, "use drop:N or crash:N (fault injection, board=loopback only)")
    return BoardConfig(
        str(kind),
        address or "127.0.0.1",
        int(port),
        token_file,
        tuple(providers),
        threads,
        _positive(cfg, "timeout_s", 30.0),
        _positive(cfg, "connect_timeout_s", 5.0),
        int(max_bytes),
        slowdown,
        max_model,
        str(fault) if fault else None,
    )


class LoopbackAgent:
    """``simbench-agent serve`` on 127.0.0.1 in a temporary directory; :meth:`stop` removes it all."""

    def __init__(self, board: BoardConfig, start_timeout_s: float = 30.0) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="simbench-agent-"))
        self.token_file = self.dir / "token"
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        cmd = [
            sys.executable,
            "-m",
            "simbench_agent",
            "serve",
            "--address",
            "127.0.0.1",
            "--port",
            str(board.port),
            "--token-file",
            str(self.token_file),
            "--cache-dir",
            str(self.dir / "cache"),
            "--name",
            "loopback",
            "--max-message-bytes",
            str(board.max_message_bytes),
        ]
        if board.slowdown != 1.0:
            cmd += ["--slowdown", repr(board.slowdown)]
        if board.max_model_bytes is not None:
            cmd += ["--max-model-bytes", str(board.max_model_bytes)]
        if board.fault:
            cmd += ["--fault", board.fault]
        # Tied to this process: the agent exits and removes self.dir when its stdin (our pipe) closes,
        # which the kernel does however this process ends, SIGKILL included (simbench_agent.lifeline).
        cmd += ["--parent-watch", "--remove-on-exit", str(self.dir)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        atexit.register(self.stop)
        line = self._first_line(start_timeout_s)
        if not line.startswith("simbench-agent listening on "):
            err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
            self.stop()
            raise BoardError(
                f"loopback agent did not start: {(err.strip().splitlines() or [line or 'no output'])[-1]}",
                "unreachable",
            )
        self.port = int(line.rsplit(":", 1)[1])
        # Drain the agent's log so a chatty agent never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _first_line(self, timeout_s: float) -> str:
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self.proc.stdout.readline() if self.proc.stdout else ""), daemon=True
        )
        reader.start()
        reader.join(timeout_s)
        return result[0].strip() if result else ""

    def _drain(self) -> None:
        if self.proc.stderr:
            for _ in self.proc.stderr:
                pass

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def stop(self) -> None:
        stop_process(self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)
        atexit.unregister(self.stop)


def read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as err:
        raise bad_value("board.token_file", str(path), f"cannot be read ({err.strerror})") from None
    if not token:
        raise bad_value("board.token_file", str(path), "is empty; it must hold the agent's token")
    return token


class BoardConnection:
    """A connected client (``.client``) and, for ``board=loopback``, the agent it started.

    Use as a context manager or call :meth:`close`; the loopback agent lives exactly as long."""

    def __init__(self, board: BoardConfig) -> None:
        self.board = board
        self.agent = LoopbackAgent(board) if board.kind == "loopback" else None
        try:
            port = self.agent.port if self.agent else board.port
            token = self.agent.token if self.agent else read_token(board.token_file)  # type: ignore[arg-type]
            self.where = f"{board.address}:{port}"
            self.client = BoardClient(
                board.address, port, token, board.timeout_s, board.connect_timeout_s, board.max_message_bytes
            )
        except BaseException:
            if self.agent:
                self.agent.stop()
            raise

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.agent:
                self.agent.stop()

    def __enter__(self) -> BoardConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """Terminate a child we started, killing it if it has not exited 5 s later."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


__all__ = ["BOARD_KINDS", "BoardConfig", "BoardConnection", "LoopbackAgent", "parse_board", "stop_process"]
