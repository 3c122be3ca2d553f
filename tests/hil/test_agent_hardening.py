"""The agent under attack: slowloris peers, oversized frames before the hello, bad options, and a
loopback agent whose parent is killed outright."""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from simbench_agent.cli import main as agent_main
from simbench_agent.protocol import PROTOCOL_VERSION, pack
from simbench_agent.server import Agent, AgentConfig, AgentServer

from simbench.hil.client import BoardClient, BoardError
from tests.hil.helpers import frame, raw_exchange

TOKEN = "x" * 24


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[AgentServer]:
    """An agent in this process with the defaults a user gets (``AgentConfig`` overrides by param)."""
    overrides = getattr(request, "param", {})
    srv = AgentServer("127.0.0.1", 0, Agent(AgentConfig(token=TOKEN, cache_dir=tmp_path, **overrides)))
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


class Slowloris:
    """``n`` token-less peers that each send a header claiming 1000 bytes, then 1 byte every ``every_s``."""

    def __init__(self, port: int, n: int, every_s: float = 0.5) -> None:
        self.stop = threading.Event()
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
        for s in self.socks:
            try:
                s.sendall(struct.pack(">I", 1000))
            except OSError:  # already evicted by the agent
                pass
        self.thread = threading.Thread(target=self._trickle, args=(every_s,), daemon=True)
        self.thread.start()

    def _trickle(self, every_s: float) -> None:
        while not self.stop.wait(every_s):
            for s in self.socks:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for s in self.socks:
            s.close()


def served_within(port: int) -> float:
    t0 = time.monotonic()
    with BoardClient("127.0.0.1", port, TOKEN, timeout_s=5) as client:
        assert client.facts["agent_version"]
    return time.monotonic() - t0


@pytest.mark.parametrize("peers", [4, 40])
def test_slowloris_peers_do_not_keep_a_valid_client_out(server: AgentServer, peers: int) -> None:
    """Four (the connection limit) or forty trickling token-less peers: a valid hello is served at
    once, several times over, while they stay connected."""
    port = server.server_address[1]
    attack = Slowloris(port, peers)
    try:
        time.sleep(0.3)
        waits = [served_within(port) for _ in range(3)]
    finally:
        attack.close()
    assert max(waits) < 2.0, waits


@pytest.mark.parametrize("server", [{"hello_timeout_s": 1.0}], indirect=True)
def test_the_hello_deadline_covers_the_whole_frame(server: AgentServer) -> None:
    """A peer trickling its hello a byte at a time is cut off at the deadline, not kept alive per byte."""
    port = server.server_address[1]
    attack = Slowloris(port, 1, every_s=0.2)
    try:
        t0 = time.monotonic()
        attack.socks[0].settimeout(5)
        data = b""
        try:
            while chunk := attack.socks[0].recv(100):
                data += chunk
        except OSError:
            pass
        assert time.monotonic() - t0 < 2.0
    finally:
        attack.close()


def test_a_large_frame_before_the_hello_is_refused_unread(server: AgentServer) -> None:
    """An unauthenticated peer cannot make the agent buffer megabytes: the cap is a hello's size."""
    t0 = time.monotonic()
    reply = raw_exchange(server.server_address[1], struct.pack(">I", 40 << 20) + b"a" * 1000)
    assert b"exceeds the cap of 4096 bytes" in reply and b"before hello" in reply
    assert time.monotonic() - t0 < 2.0
    assert b"token refused" in raw_exchange(server.server_address[1], frame(pack({"op": "hello", "token": "no"})))


@pytest.mark.parametrize("server", [{"max_connections": 1}], indirect=True)
def test_busy_only_counts_authenticated_connections(server: AgentServer) -> None:
    port = server.server_address[1]
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)  # no hello: holds no slot
    try:
        with BoardClient("127.0.0.1", port, TOKEN, timeout_s=5):
            with pytest.raises(BoardError, match="serves 1 connections at most") as err:
                BoardClient("127.0.0.1", port, TOKEN, timeout_s=5)
            assert err.value.code == "busy"
        served_within(port)  # the slot is free again
    finally:
        silent.close()


@pytest.mark.parametrize("server", [{"max_pending": 2}], indirect=True)
def test_a_full_pending_pool_evicts_its_oldest(server: AgentServer) -> None:
    port = server.server_address[1]
    first = socket.create_connection(("127.0.0.1", port), timeout=5)
    time.sleep(0.2)
    others = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    try:
        assert first.recv(10) == b""  # shut down to admit the newest
        assert served_within(port) < 2.0
    finally:
        for s in [first, *others]:
            s.close()


@pytest.mark.parametrize("server", [{"max_message_bytes": 200}], indirect=True)
def test_a_reply_over_the_cap_is_answered_with_an_error(server: AgentServer) -> None:
    """The hello reply (board facts) does not fit 200 bytes: the client gets a reason, the agent no traceback."""
    with pytest.raises(BoardError, match="too_large|reply not sent"):
        BoardClient("127.0.0.1", server.server_address[1], TOKEN, timeout_s=5)


# -- options ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value",
    [
        ("--idle-timeout-s", "nan"),
        ("--idle-timeout-s", "-1"),
        ("--idle-timeout-s", "0"),
        ("--max-connections", "0"),
        ("--max-connections", "-1"),
        ("--max-message-bytes", "1024"),
        ("--address", "not-an-ip"),
        ("--port", "70000"),
        ("--slowdown", "nan"),
        ("--fault", "bogus"),
    ],
)
def test_a_bad_agent_option_is_one_line_naming_it(option: str, value: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    code = agent_main(["serve", "--port", "0", "--token-file", str(token), "--cache-dir", str(tmp_path / "c"),
                       option, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("simbench-agent: error: ") and f"{option}=" in err[0], err
    assert not (tmp_path / "c").exists()


# -- the loopback agent is tied to its parent -------------------------------------------------------


def test_a_killed_parent_takes_its_loopback_agent_and_token_with_it(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from tests.hil.helpers import start_agent
        agent = start_agent()
        print(agent.proc.pid, agent.dir, flush=True)
        time.sleep(60)
        """
    )
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid_text, directory = parent.stdout.readline().split()
        pid = int(pid_text)
        assert Path(directory, "token").is_file()
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (alive(pid) or Path(directory).exists()):
            time.sleep(0.1)
        assert not alive(pid), "the loopback agent outlived its parent"
        assert not Path(directory).exists(), "the token directory was left behind"
    finally:
        if parent.poll() is None:
            parent.kill()


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone: it runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def test_hello_version_check_unchanged(server: AgentServer) -> None:
    """The hardening keeps the protocol: a wrong version is still refused with its reason."""
    reply = raw_exchange(server.server_address[1], frame(pack({"op": "hello", "token": TOKEN, "version": 99})))
    assert b"version" in reply and str(PROTOCOL_VERSION).encode() in reply
