"""Command-line tools registered on the app (the one place): `flask chat`, `flask faq …`, `flask jobs …` …"""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    from bot.devserver import serve
    from bot.diagrams import flows_cli
    from bot.faq import faq_cli
    from bot.nlu.cli import nlu_cli
    from bot.services.export import export_command
    from bot.services.legal_aid import legal_aid_cli
    from bot.wechat_menu import wechat_cli

    app.cli.add_command(chat)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(faq_cli)
    app.cli.add_command(nlu_cli)
    app.cli.add_command(legal_aid_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(flows_cli)
    app.cli.add_command(wechat_cli)
    app.cli.add_command(serve)


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


outbox_cli = click.Group("outbox", help="Messages queued for the WeChat API.")


@outbox_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep sending every --interval seconds.")
@click.option("--interval", default=30, show_default=True)
@with_appcontext
def outbox_send(loop: bool, interval: int) -> None:
    """Send queued customer-service / template messages through the WeChat API."""
    import time

    from bot import outbox, wechat_api

    while True:
        counts = outbox.send_pending(wechat_api.client())
        click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
        if not loop:
            break
        time.sleep(interval)


jobs_cli = click.Group("jobs", help="Scheduled jobs: reminders, notices, staff alerts, slots, retention.")


@jobs_cli.command("tick")
@with_appcontext
def jobs_tick() -> None:
    """Run what is due now, once (idempotent: fit for cron or a systemd timer)."""
    from bot import jobs

    scheduler = jobs.Scheduler()
    try:
        click.echo(jobs.summary(scheduler.tick()))
    except jobs.SettingError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        scheduler.release()


@jobs_cli.command("run")
@click.option("--loop", is_flag=True, help="Keep ticking (every JOBS_INTERVAL_SECONDS) while holding the lease.")
@click.option("--interval", type=float, help="Seconds between ticks (default: JOBS_INTERVAL_SECONDS).")
@with_appcontext
def jobs_run(loop: bool, interval: float | None) -> None:
    """Run the scheduler: once, or with --loop until Ctrl-C / SIGTERM (then the lease is given up)."""
    import signal
    import threading

    from bot import jobs

    stop, last = threading.Event(), [""]
    if loop:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(results) -> None:  # what was done, and a quiet or waiting state only when it changes
        text = jobs.summary(results)
        if results or text != last[0]:
            click.echo(text)
        last[0] = text

    try:
        jobs.Scheduler().loop(stop, interval or current_app.config["JOBS_INTERVAL_SECONDS"], report, once=not loop)
    except jobs.SettingError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("stopped")
