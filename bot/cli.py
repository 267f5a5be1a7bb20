"""Command-line tools registered on the app: `flask chat`, `flask faq …`, `flask nlu …`, `flask outbox …`."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    from bot.diagrams import flows_cli
    from bot.faq import faq_cli
    from bot.nlu.cli import nlu_cli
    from bot.outbox_cli import outbox_cli
    from bot.services.export import export_command
    from bot.services.legal_aid import legal_aid_cli

    app.cli.add_command(chat)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(faq_cli)
    app.cli.add_command(nlu_cli)
    app.cli.add_command(legal_aid_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(flows_cli)


@click.command("chat")
@click.option("--openid", default="o_terminal_worker", help="Which worker to be (WeChat OpenID).")
@with_appcontext
def chat(openid: str) -> None:
    """Talk to the bot as one worker, through the real webhook (signed, encrypted with a key)."""
    from bot.simulator import WeChatSim

    sim = WeChatSim(current_app.test_client(), current_app.config, openid=openid)
    mode = "安全模式 (AES)" if sim.encrypt else "明文模式"
    click.echo(f"职工之家 本地聊天 · {mode} · OpenID {openid}\n输入消息后回车；/关注 模拟关注，/菜单键 KEY 模拟点菜单，/退出 结束。")
    click.echo("bot> " + sim.event("subscribe").replace("\n", "\n     "))
    while True:
        try:
            text = input("我> ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            break
        text = text.strip()
        if text in ("/退出", "/quit", "/exit"):
            break
        if text == "/关注":
            reply = sim.event("subscribe")
        elif text.startswith("/菜单键"):
            reply = sim.event("CLICK", text.removeprefix("/菜单键").strip())
        elif text:
            reply = sim.say(text)
        else:
            continue
        click.echo("bot> " + (reply or "（无回复）").replace("\n", "\n     "))

