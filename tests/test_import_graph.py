"""The import graph, as a reader can check it.

Nodes are simbench's packages (``scheduler``, ``latency``, ``envs``...) and top-level modules
(``runner``, ``rollout``, ``metrics``...); an edge is any ``import simbench.X`` anywhere in a file,
including imports inside functions (those hide dependencies from a reader as well as from a linter).
The same holds one level down: no circle between two files (modules) of simbench, whatever their
packages. And the repository's ``hil/`` has no upward arrow: the board agent (``hil/agent``) imports
nothing of simbench, and neither simbench nor the agent imports the lab's nightly (``hil/nightly``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "simbench"
AGENT = ROOT / "hil" / "agent"
NIGHTLY = ROOT / "hil" / "nightly"

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


def _module_of(path: Path, pkg: Path = PKG) -> str:
    parts = path.relative_to(pkg.parent).with_suffix("").parts
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


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]) -> list[str]:
    """The modules one import statement names: ``from a import b`` names the module ``a.b`` when there is
    one (a submodule imported by name), else ``a``; relative imports resolved against ``module``."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def module_edges(pkg: Path = PKG) -> dict[tuple[str, str], list[str]]:
    """(importing module, imported module) -> [file:line], over every import statement of the package at
    ``pkg`` (inside functions and ``TYPE_CHECKING`` blocks too). Importing ``a.b.c`` is an edge to ``a.b.c``
    alone: Python runs a package's ``__init__`` before any module of it, so the parents are no edge."""
    name = pkg.name
    files = {_module_of(path, pkg): path for path in sorted(pkg.rglob("*.py"))}
    modules = set(files)
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _imported(node, module, path.name == "__init__.py", modules):
                if target != name and not target.startswith(name + "."):
                    continue  # another distribution (numpy, simbench_agent...)
                while target not in modules and "." in target:  # an attribute: its module
                    target = target.rpartition(".")[0]
                if target != module:
                    edges[(module, target)].append(f"{path.relative_to(pkg.parent)}:{node.lineno}")
    return edges


def describe_circles(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """Each circle as the imports that close it, ``file:line imports module``, one line per circle."""
    return sorted(
        "; ".join(sorted(f"{wheres[0]} imports {b}" for (a, b), wheres in edges.items() if a in circle and b in circle))
        for circle in strongly_connected(edges)
    )


def test_no_import_circle_between_modules() -> None:
    """No two files of simbench import each other, directly or round a longer circle: a piece both sides
    need lives in a module both import (the package check above, one level down)."""
    circles = describe_circles(module_edges())
    assert not circles, "import circles between files:\n" + "\n".join(circles)


def test_a_circle_between_modules_is_named_by_its_files(tmp_path: Path) -> None:
    """The check sees a submodule imported by name, an import inside a function and a relative import."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for init in (pkg / "__init__.py", pkg / "sub" / "__init__.py"):
        init.write_text("")
    (pkg / "sub" / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from pkg.c import g\n")
    (pkg / "c.py").write_text("from .sub.a import x\n")
    (pkg / "d.py").write_text("import pkg.c\nfrom pkg import sub\n")  # into the circle, not part of it
    assert describe_circles(module_edges(pkg)) == [
        "pkg/c.py:1 imports pkg.sub.a; pkg/sub/a.py:1 imports pkg.sub.b; pkg/sub/b.py:2 imports pkg.c"
    ]


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


def _imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a file, inside functions too."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def test_board_agent_imports_nothing_of_simbench() -> None:
    """The board side is its own package (hil/agent/pyproject.toml): it imports the standard library,
    itself and the dependencies it declares (numpy, onnxruntime, msgpack); no simbench, nothing of the
    nightly. The arrow goes the other way: simbench.hil speaks the agent's protocol (simbench_agent)."""
    project = tomllib.loads((AGENT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[^A-Za-z0-9_.-]", d, maxsplit=1)[0].replace("-", "_").lower()
                for d in project["dependencies"]}
    allowed = set(sys.stdlib_module_names) | declared | {"simbench_agent"}
    bad = [f"{path.relative_to(ROOT)}:{line} imports {name}"
           for path in sorted((AGENT / "simbench_agent").rglob("*.py"))
           for line, name in _imports_of(path) if name.split(".")[0] not in allowed]
    assert not bad, f"the board agent imports outside itself: {bad}"


def test_only_simbench_hil_talks_to_the_board_agent() -> None:
    """The core (scheduler, latency, policies...) knows no board: only simbench.hil imports simbench_agent."""
    bad = [f"{path.relative_to(ROOT)}:{line} imports {name}"
           for path in sorted(PKG.rglob("*.py")) if not _module_of(path).startswith("simbench.hil")
           for line, name in _imports_of(path) if name.split(".")[0] == "simbench_agent"]
    assert not bad, bad


NIGHTLY_FILES = [*sorted(NIGHTLY.glob("*.py")), NIGHTLY / "run"]
"""The lab's nightly HIL regression: its entry point (``run``, Python), its board suite and helpers."""

NIGHTLY_USES: dict[str, str] = {
    "simbench.cli.nightly": "run is the nightly's entry point; the engine is simbench/hil/nightly.py",
    "simbench.errors": "run reports a ConfigError in one line, as python -m simbench does",
    "simbench.hil.client": "test_board.py drives the host's board client against the real board: the code under test",
    "simbench.hil.board": "sshd.py stops its sshd with stop_process (terminate, kill 5 s later), as the library "
                          "stops its loopback agent: one small helper, kept in one home rather than copied",
}
"""What the nightly imports of simbench, each with why. The nightly is the lab side, above the library
(it runs simbench against a board), so these arrows point down; a new one is added here with its reason."""


def test_nightly_imports_of_simbench_are_the_listed_ones() -> None:
    used = {name for path in NIGHTLY_FILES for _, name in _imports_of(path)
            if name == "simbench" or name.startswith("simbench.")}
    assert used <= set(NIGHTLY_USES), f"hil/nightly imports {sorted(used - set(NIGHTLY_USES))}: list it with why"
    assert set(NIGHTLY_USES) <= used, f"NIGHTLY_USES lists {sorted(set(NIGHTLY_USES) - used)}, no longer imported"


def test_nothing_imports_the_nightly() -> None:
    """Neither the library nor the board agent imports the nightly (its sshd helper, its fixtures)."""
    nightly = {"hil"} | {p.stem for p in NIGHTLY.glob("*.py")}
    bad = [f"{path.relative_to(ROOT)}:{line} imports {name}"
           for path in sorted([*PKG.rglob("*.py"), *(AGENT / "simbench_agent").rglob("*.py")])
           for line, name in _imports_of(path) if name.split(".")[0] in nightly]
    assert not bad, bad
