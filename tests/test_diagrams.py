"""flask flows diagram: every flow's states / transitions table drawn as a Mermaid state diagram."""
from __future__ import annotations

import re

import pytest

from bot.diagrams import mermaid
from bot.flows import FLOWS


def edges(flow):
    """(source, dest, trigger, condition names) for every row of the transitions table."""
    for row in flow.transitions:
        if isinstance(row, (list, tuple)):
            row = dict(zip(("trigger", "source", "dest"), row))
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        names = [getattr(c, "__name__", str(c)) for key in ("conditions", "unless")
                 for c in (row.get(key) if isinstance(row.get(key), list) else [row.get(key)]) if c]
        for source in sources:
            yield source, row.get("dest") or source, row["trigger"], names


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_state_and_transition_is_drawn(name):
    flow = FLOWS[name]
    text = mermaid(flow)
    assert text.startswith(f"---\ntitle: {flow.title}") and "stateDiagram-v2" in text
    for state in flow.states:
        label = f"{state['title']}（{state['name']}）" if state.get("title") else state["name"]
        assert f'state "{label}" as {state["name"]}' in text
        if state.get("final"):
            assert f"{state['name']} --> [*]" in text
    assert f"[*] --> {flow.states[0]['name']}" in text
    lines = text.splitlines()
    for source, dest, trigger, conditions in edges(flow):
        line = next((ln for ln in lines if ln.strip().startswith(f"{source} --> {dest}:")), None)
        assert line is not None, f"{source} --> {dest} missing"
        assert trigger in line and all(c in line for c in conditions), line


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_state_has_a_chinese_title(name):
    """All diagrams read alike: each box says in Chinese what the step is."""
    untitled = [s["name"] for s in FLOWS[name].states if not s.get("title")]
    assert untitled == []


def test_legal_aid_diagram_reads_in_chinese():
    text = mermaid(FLOWS["legal_aid"])
    assert 'state "咨询时段（slot）" as slot' in text
    assert re.search(r"confirm --> booked: answer \[reserved\]", text)
    assert re.search(r"confirm --> slot: answer", text)  # the seat went meanwhile


def test_cli_writes_one_mermaid_block_per_flow(runner, tmp_path):
    out = tmp_path / "docs" / "flows.md"
    result = runner.invoke(args=["flows", "diagram", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.count("```mermaid") == len(FLOWS)
    for flow in FLOWS.values():
        assert f"## {flow.title}（{flow.name}）" in text
    assert "```mermaid" in runner.invoke(args=["flows", "diagram"]).output


def test_readme_shows_the_current_diagrams():
    """The README's diagrams are the generated ones (regenerate: flask flows diagram --readme README.md)."""
    from pathlib import Path

    from bot.diagrams import readme_with_diagrams

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert readme_with_diagrams(readme) == readme
