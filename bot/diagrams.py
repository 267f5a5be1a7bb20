"""State diagrams of the flows, drawn from their states / transitions tables as Mermaid (`flask flows diagram`).

transitions' own Mermaid engine (GraphMachine, graph_engine="mermaid") builds the graph; this
module only gives it the Chinese step titles, turns its title line into valid front matter and
drops the colour classes it adds for highlighting a model's current state.
"""
from __future__ import annotations

from pathlib import Path

import click
from transitions.extensions import GraphMachine

from bot.flows import FLOWS
from bot.flows.engine import Step

HEADER = ("# 对话流程图\n\n"
          "由 `flask flows diagram --out docs/flows.md` 根据 bot/flows/*.py 的 Flow(states=…, transitions=…) 表生成，"
          "请勿手工修改。\n\n"
          "每个方框是一个步骤（中文标题，括号里是存储用的状态名）；箭头上的 answer 表示职工回答了这一步，"
          "back 表示「返回」，方括号里是条件（! 表示条件不成立）。\n\n"
          "取消、菜单、转人工、超时等全局命令在每一步都可用，由 bot/dialog.py 处理，图中不画。\n")


class _TitledStep(Step):
    """A Step whose diagram label is its Chinese title (its "title") and its stored name."""

    @property
    def label(self) -> str:
        return (f"{self.title}（{self.name}）" if self.title else self.name).replace('"', "'")


class _DiagramMachine(GraphMachine):
    state_cls = _TitledStep


class _Model:
    """GraphMachine needs a model to draw; the flow's real model (FlowRun) is not needed for a picture."""


def mermaid(flow) -> str:
    """The flow's state diagram as Mermaid stateDiagram-v2 text."""
    machine = _DiagramMachine(model=_Model(), states=flow.states, transitions=flow.transitions,
                              initial=flow.states[0]["name"], auto_transitions=False, send_event=True,
                              graph_engine="mermaid", show_conditions=True)
    lines = machine.model.get_graph().source.splitlines()
    # transitions writes "---\n<title>\n---" and per-node colour classes; keep the graph itself.
    body = [line for line in lines[3:] if not line.strip().startswith(("Class ", "classDef "))]
    finals = [f"  {s['name']} --> [*]" for s in flow.states if s.get("final")]
    return "\n".join(["---", f"title: {flow.title}（{flow.name}）", "---", *body, *finals])


def document(flows=None) -> str:
    flows = flows if flows is not None else FLOWS.values()
    parts = [HEADER]
    for flow in flows:
        parts.append(f"## {flow.title}（{flow.name}）\n\n"
                     f"源文件：bot/flows/{flow.name}.py\n\n```mermaid\n{mermaid(flow)}\n```\n")
    return "\n".join(parts)


@click.group("flows")
def flows_cli() -> None:
    """The worker dialogs (bot/flows)."""


README_START, README_END = "<!-- flows:start -->", "<!-- flows:end -->"


def readme_with_diagrams(readme: str) -> str:
    """The README with the text between the flow markers replaced by the generated diagrams."""
    head, _, rest = readme.partition(README_START)
    _, _, tail = rest.partition(README_END)
    body = "\n## " + document().split("\n## ", 1)[1]
    body = body.replace("\n## ", "\n### ")  # one level down inside the README
    return f"{head}{README_START}\n{body}\n{README_END}{tail}"


@flows_cli.command("diagram")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file (e.g. docs/flows.md) instead of stdout.")
@click.option("--readme", type=click.Path(dir_okay=False, exists=True),
              help="Also refresh the diagrams between the flow markers of this README.")
def diagram_command(out: str | None, readme: str | None) -> None:
    """One Mermaid state diagram per flow, with the Chinese step titles."""
    text = document()
    if readme:
        Path(readme).write_text(readme_with_diagrams(Path(readme).read_text(encoding="utf-8")), encoding="utf-8")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"已写入 {out}（{len(FLOWS)} 个流程）")
    else:
        click.echo(text)
