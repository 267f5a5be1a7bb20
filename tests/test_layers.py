"""The layers of bot/ import only downward, and no two modules import each other in a circle.

The layers, top to bottom, as README "How it works" states them. A module may import from its own
layer (without a cycle) or any layer below; never from a layer above.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
LAYERS = [
    # entry points: the webhook's unit of work, the workbench, the CLI, the simulator, jobs
    ["bot.webhook", "bot.unit_of_work", "bot.simulator", "bot.cli", "bot.outbox_cli", "bot.staff", "bot.diagrams", "bot.devserver", "bot.jobs",
     "bot.wechat_menu", "bot.security", "bot.settings"],
    ["bot.handlers"],  # one module per kind of WeChat message
    ["bot.dialog", "bot.answers"],  # global commands and steps · the free-text policy
    ["bot.targets", "bot.flows"],  # what a message comes to mean · the flows as data
    ["bot.conversation", "bot.context"],  # the Dialog row and what the worker was shown
    ["bot.services"],  # the domain: returns bookings, escalations, applications, never reply text
    ["bot.nlu", "bot.faq", "bot.vocabulary", "bot.outbox", "bot.wechat_api", "bot.fake_wechat", "bot.sender",
     "bot.message_log", "bot.hot_path", "bot.spool", "bot.audit", "bot.masking", "bot.wechat", "bot.dispatch", "bot.reloading",
     "bot.config_files", "bot.tokens", "bot.wechat_stops", "bot.wechat_templates"],
    ["bot.models", "bot.storage", "bot.clock", "bot.texts", "bot.extensions", "bot.columns", "bot.chinese"],
]


def layer_of(module: str) -> int:
    for level, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    raise AssertionError(f"{module} is in no layer: add it to LAYERS here and to the README")


def modules() -> dict[str, Path]:
    found = {}
    for path in BOT.rglob("*.py"):
        parts = path.relative_to(BOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path, name: str) -> set[str]:
    """Every bot.* module the file imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bot.")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base == "bot" or base.startswith("bot."):
                known = modules()
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.add(full if full in known else base)
    return {m for m in found if m != name}


GRAPH = {name: imports_of(path, name) for name, path in modules().items() if name != "bot"}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_down_only(module):
    upward = sorted(dep for dep in GRAPH[module] if dep != "bot" and layer_of(dep) < layer_of(module))
    assert upward == [], f"{module} (layer {layer_of(module)}) imports from a layer above: {upward}"


def test_no_import_cycles():
    """Tarjan-free and small: a depth-first search that reports the first circle it walks into."""
    done, path = set(), []

    def visit(node):
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for dep in sorted(GRAPH.get(node, ())):
            circle = visit(dep) if dep in GRAPH else None
            if circle:
                return circle
        path.pop()
        done.add(node)
        return None

    for module in sorted(GRAPH):
        circle = visit(module)
        assert circle is None, "import cycle: " + " → ".join(circle)
