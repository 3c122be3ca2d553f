"""``simbench-agent serve --address A --port P --token-file F``: run the board agent.

Binds 127.0.0.1 unless another address is given explicitly. The token file holds one shared secret
(at least 16 characters; ``python -c "import secrets; print(secrets.token_hex(32))" > token``); the
host sends it in its hello and the agent compares it in constant time. Prints
``simbench-agent listening on ADDRESS:PORT`` once it accepts connections (``--port 0`` picks a free
port and that line says which).
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import stat
import sys
from pathlib import Path

from simbench_agent import __version__
from simbench_agent.protocol import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PORT, PROTOCOL_VERSION
from simbench_agent.lifeline import watch_parent
from simbench_agent.server import Agent, AgentConfig, AgentServer, log


def read_token(path: Path) -> str:
    """The token in ``path``; raises ``ValueError`` with one line when unusable."""
    try:
        token = path.read_text().strip()
    except OSError as err:
        raise ValueError(f"--token-file={str(path)!r} cannot be read ({err.strerror})") from None
    if len(token) < 16 or not token.isascii() or any(c.isspace() for c in token):
        raise ValueError(
            f"--token-file={str(path)!r} must hold one token of at least 16 ASCII characters without spaces"
        )
    return token


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simbench-agent", description="simbench board agent (hardware in the loop)")
    parser.add_argument(
        "--version", action="version", version=f"simbench-agent {__version__} (protocol {PROTOCOL_VERSION})"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve benchmarks and inference to a simbench host")
    serve.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0: a free one)"
    )
    serve.add_argument("--token-file", type=Path, required=True, help="file holding the shared token")
    serve.add_argument("--name", default=None, help="board name reported in hello (default: hostname)")
    serve.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "simbench-agent", help="model cache (by sha256)"
    )
    serve.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES, help="cap on one message")
    serve.add_argument("--max-model-bytes", type=int, default=32 * 1024 * 1024, help="cap on one uploaded model")
    serve.add_argument("--max-connections", type=int, default=4)
    serve.add_argument("--idle-timeout-s", type=float, default=300.0, help="close a connection silent for this long")
    serve.add_argument(
        "--slowdown", type=float, default=1.0, help=argparse.SUPPRESS
    )  # fault injection (tests, loopback)
    serve.add_argument("--fault", default=None, help=argparse.SUPPRESS)  # fault injection: drop:N | crash:N
    # board=loopback: exit when the parent's end of stdin closes (the parent died, even by SIGKILL)
    # and remove the parent's temporary directory (token, cache) on the way out.
    serve.add_argument("--parent-watch", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--remove-on-exit", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


MIN_MESSAGE_BYTES = 64 * 1024
"""Smallest frame cap: the hello reply (board facts) and a chunk must fit, or the agent could not
answer at all (1024 used to be accepted and then failed on the first hello)."""


def _bounded(option: str, value: float, lo: float, hi: float, integer: bool = False) -> None:
    """Refuse ``value`` unless finite and in [lo, hi], naming the option, the value and the range."""
    if not (math.isfinite(value) and lo <= value <= hi):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{option}={value!r} is not allowed; must be {kind} in [{lo:g}, {hi:g}]")


def check_options(args: argparse.Namespace) -> None:
    """Every option of ``serve`` checked before anything starts; one-line ``ValueError``."""
    try:
        ipaddress.ip_address(args.address)
    except ValueError:
        raise ValueError(
            f"--address={args.address!r} is not allowed; give an IP address (127.0.0.1, 0.0.0.0, ::1, 192.168.7.2)"
        ) from None
    _bounded("--port", args.port, 0, 65535, integer=True)
    _bounded("--max-message-bytes", args.max_message_bytes, MIN_MESSAGE_BYTES, 1 << 30, integer=True)
    _bounded("--max-model-bytes", args.max_model_bytes, 1, 1 << 30, integer=True)
    _bounded("--max-connections", args.max_connections, 1, 1024, integer=True)
    _bounded("--idle-timeout-s", args.idle_timeout_s, 0.001, 7 * 86_400.0)
    _bounded("--slowdown", args.slowdown, 1.0, 1e6)
    if args.fault is not None:
        kind, _, n = args.fault.partition(":")
        if kind not in ("drop", "crash") or not n.isdigit():
            raise ValueError(f"--fault={args.fault!r} is not allowed; use drop:N or crash:N")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        check_options(args)
        token = read_token(args.token_file)
        mode = args.token_file.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            log(f"warning: {args.token_file} is readable by other users; chmod 600 it")
        cfg = AgentConfig(
            token=token,
            cache_dir=args.cache_dir,
            max_message_bytes=args.max_message_bytes,
            max_model_bytes=args.max_model_bytes,
            max_connections=args.max_connections,
            idle_timeout_s=args.idle_timeout_s,
            slowdown=args.slowdown,
            fault=args.fault,
        )
        if args.name:
            cfg.name = args.name
        agent = Agent(cfg)
        server = AgentServer(args.address, args.port, agent)
    except (ValueError, OSError) as err:
        print(f"simbench-agent: error: {err}", file=sys.stderr)
        return 2
    if args.parent_watch:
        watch_parent(server, args.remove_on_exit)
    host, port = server.server_address[:2]
    try:
        if not ipaddress.ip_address(host).is_loopback:
            log(f"warning: listening on {host}, reachable beyond this machine; keep it on the tether's private link")
    except ValueError:
        pass
    print(f"simbench-agent listening on {host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
