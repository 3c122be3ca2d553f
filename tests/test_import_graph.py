"""The import graph, as a reader can check it.

Nodes are simbench's packages (``scheduler``, ``latency``, ``envs``...) and top-level modules
(``runner``, ``rollout``, ``metrics``...); an edge is any ``import simbench.X`` anywhere in a file,
including imports inside functions (those hide dependencies from a reader as well as from a linter).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

PKG = Path(__file__).resolve().parents[1] / "simbench"

ALLOWED_CYCLES: dict[frozenset[str], str] = {}
"""Import circles that are allowed, each with why."""

FORBIDDEN: list[tuple[str, str, frozenset[str]]] = [
    # the scheduler sees a policy only through its contract; no policy knows the scheduler
    ("scheduler", "policies", frozenset({"simbench.policies.base", "simbench.policies.request"})),
    ("policies", "scheduler", frozenset()),
    ("expert", "training", frozenset()),  # demonstrations feed training, never the reverse
    # a policy runs without its trainer (checkpoint I/O: policies.act.checkpoint)
    ("policies", "training", frozenset()),
    ("envs", "expert", frozenset()),  # the scene does not know its expert (the arm's IK: envs.arm_ik)
    # hardware in the loop sits beside the core: the config names its plug-ins (module:function), the
    # core never imports them
    ("config", "hil", frozenset()),
    ("scheduler", "hil", frozenset()),
    ("latency", "hil", frozenset()),
    ("policies", "hil", frozenset()),
    ("runner", "hil", frozenset()),
]
"""(importer, imported, modules of the imported package that may be imported): upward arrows."""

CLI_MAX_LINES = 120
OWNED_ELSEWHERE = {"hil.py"}
"""cli modules not held to the line limit here (cli/hil.py belongs to the HIL work)."""


def _node(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "simbench"


def _module_of(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_edges() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(importing node, imported node) -> [(file:line, imported module)], over every import statement."""
    known = {p.stem for p in PKG.iterdir() if p.suffix == ".py"} | {p.name for p in PKG.iterdir() if p.is_dir()}
    edges: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for path in sorted(PKG.rglob("*.py")):
        src = _node(_module_of(path))
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] if node.module != "simbench" else [f"simbench.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                if not target.startswith("simbench."):
                    continue
                dst = _node(target)
                if dst != src and dst in known:
                    edges[(src, dst)].append((f"{path.relative_to(PKG.parent)}:{node.lineno}", target))
    return edges


def strongly_connected(edges: dict[tuple[str, str], Any]) -> list[set[str]]:
    """Tarjan's strongly connected components with more than one node: the import circles."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_between_packages() -> None:
    edges = import_edges()
    circles = [c for c in strongly_connected(edges) if frozenset(c) not in ALLOWED_CYCLES]
    detail = [sorted(f"{a} -> {b} ({edges[(a, b)][0][0]})" for a, b in edges if a in c and b in c) for c in circles]
    assert not circles, f"import circles: {detail}"


def test_allowed_circles_are_still_circles() -> None:
    """An allowance that is no longer needed is removed, not left to hide a new circle."""
    circles = {frozenset(c) for c in strongly_connected(import_edges())}
    assert set(ALLOWED_CYCLES) <= circles


@pytest.mark.parametrize("importer, imported, allowed", FORBIDDEN, ids=lambda v: v if isinstance(v, str) else "")
def test_no_upward_import(importer: str, imported: str, allowed: frozenset[str]) -> None:
    bad = [(where, module) for where, module in import_edges().get((importer, imported), [])
           if not any(module == ok or module.startswith(ok + ".") for ok in allowed)]
    assert not bad, f"{importer} imports {imported}: {bad}"


@pytest.mark.parametrize("path", sorted(p for p in (PKG / "cli").glob("*.py") if p.name not in OWNED_ELSEWHERE),
                         ids=lambda p: p.name)
def test_cli_modules_are_thin(path: Path) -> None:
    """A CLI module parses and calls one function; engines live in their packages."""
    assert len(path.read_text().splitlines()) < CLI_MAX_LINES


def test_importing_simbench_has_no_side_effects() -> None:
    """``import simbench`` neither imports OmegaConf nor registers resolvers (composing does)."""
    code = ("import sys, simbench, simbench.__main__; "
            "assert 'omegaconf' not in sys.modules and 'hydra' not in sys.modules, 'omegaconf imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    code = ("from omegaconf import OmegaConf; import simbench, simbench.__main__; "
            "assert not OmegaConf.has_resolver('min') and not OmegaConf.has_resolver('job_dir')")
    subprocess.run([sys.executable, "-c", code], check=True)


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_scheduler_client_and_server_meet_only_at_the_link() -> None:
    """Neither side imports the other (the Link is the seam), and the server never type-tests its latency source."""
    client = _imported_modules(PKG / "scheduler" / "control_loop.py")
    server = _imported_modules(PKG / "scheduler" / "policy_server.py")
    assert "simbench.scheduler.policy_server" not in client
    assert "simbench.scheduler.control_loop" not in server
    assert "simbench.scheduler.link" in client & server
    # the client's rules (shared with the wall clock) know neither the server, the seam nor the runtime
    rules = _imported_modules(PKG / "scheduler" / "client.py")
    assert not rules & {f"simbench.scheduler.{m}" for m in ("policy_server", "link", "control_loop", "episode")}
    source = (PKG / "scheduler" / "policy_server.py").read_text()
    assert "isinstance(" not in source and "type: ignore" not in source
