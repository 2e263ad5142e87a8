"""The house rules a newcomer relies on: no import loops, Chroma known to one module, thresholds in one policy."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> dict[str, Path]:
    out = {}
    for root in ("app", "index", "prompts", "bench"):
        for p in (ROOT / root).rglob("*.py"):
            m = ".".join(p.relative_to(ROOT).with_suffix("").parts)
            out[m[: -len(".__init__")] if m.endswith(".__init__") else m] = p
    return out


def test_no_import_loops_between_the_projects_modules():
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.parse(p.read_text(encoding="utf-8")).body:  # module level: imports inside functions are lazy
            if isinstance(node, ast.Import):
                edges[m] |= {a.name for a in node.names if a.name in mods and a.name != m}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                for a in node.names:
                    target = f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod
                    if target in mods and target != m:
                        edges[m].add(target)
    state: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(edges[u]):
            if state.get(v) == 1:
                loops.append(stack[stack.index(v):] + [v])
            elif not state.get(v):
                visit(v)
        stack.pop()
        state[u] = 2

    for m in sorted(mods):
        if not state.get(m):
            visit(m)
    assert not loops, loops


def test_grounding_thresholds_live_only_in_the_policy():
    """No decimal constant (a threshold, weight or margin) in app/grounding/ outside policy.py; unit multipliers
    (thousand = 1e3 ...) and float tolerances are not thresholds."""
    found = []
    for p in sorted((ROOT / "app" / "grounding").glob("*.py")):
        if p.name == "policy.py":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, float) and node.value not in (0.0, 0.5, 1.0) \
                    and 1e-6 <= abs(node.value) < 1e3:
                found.append(f"{p.name}:{node.lineno} {node.value}")
    assert not found, found


def test_conversation_does_not_reach_for_the_engine():
    text = (ROOT / "app" / "conversation.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from|import)\s+app\.engine", text, re.M)
