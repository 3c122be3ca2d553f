"""Tie an agent started by a host process (``board=loopback``) to that process.

The host starts ``simbench-agent serve --parent-watch`` with a pipe as its stdin and keeps the write
end. Whatever way the host ends (return, exception, SIGKILL, OOM kill), the kernel closes that end,
the agent reads end-of-file and exits, removing the host's temporary directory (token, model cache)
when ``--remove-on-exit`` names it. A pipe works on every POSIX system and, unlike
``PR_SET_PDEATHSIG``, does not fire when merely the thread that started the agent ends.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

OWNED_PREFIX = "simbench-agent-"
"""Only a directory named like the host's ``tempfile.mkdtemp(prefix=...)`` is ever removed."""


def removable(path: Path) -> bool:
    """True for a directory the host created for this agent: directly in the temp dir, our prefix."""
    path = path.resolve()
    return path.name.startswith(OWNED_PREFIX) and path.parent == Path(tempfile.gettempdir()).resolve()


def watch_parent(server: Any, remove_on_exit: Path | None = None) -> threading.Thread:
    """Start a daemon thread that ends the process once stdin reaches end-of-file."""
    owned = remove_on_exit if remove_on_exit is not None and removable(remove_on_exit) else None

    def wait_for_eof() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass  # the host never writes; anything it did is ignored
        except (OSError, ValueError):
            pass
        try:
            if owned is not None:
                shutil.rmtree(owned, ignore_errors=True)
            # The parent read our stderr; with it gone this write may fail (a broken pipe): ignored.
            print("simbench-agent: parent process gone; exiting", file=sys.stderr, flush=True)
        except BaseException:  # noqa: BLE001 - nothing may stop the exit below
            pass
        finally:
            os._exit(0)  # serve_forever may be blocked in a request thread; leave at once

    thread = threading.Thread(target=wait_for_eof, name="parent-watch", daemon=True)
    thread.start()
    return thread


__all__ = ["OWNED_PREFIX", "removable", "watch_parent"]
