"""Command-line tools registered on the app: `flask chat`, `flask faq …`, `flask nlu …`, `flask staff …`."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    from bot.diagrams import flows_cli
    from bot.faq import faq_cli
    from bot.nlu.cli import nlu_cli
    from bot.services.export import export_command
    from bot.services.legal_aid import legal_aid_cli

    app.cli.add_command(chat)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(faq_cli)
    app.cli.add_command(nlu_cli)
    app.cli.add_command(legal_aid_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(flows_cli)
    app.cli.add_command(staff_cli)


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


staff_cli = click.Group("staff", help="Accounts for the staff workbench at /staff.")


@staff_cli.command("create")
@click.argument("login")
@click.option("--role", type=click.Choice(["staff", "admin"]), default="staff", show_default=True)
@click.option("--name", help="Name shown to colleagues and on closing notices (default: the login).")
@with_appcontext
def staff_create(login: str, role: str, name: str | None) -> None:
    """Create an account; its password is generated and printed once."""
    from bot.extensions import db
    from bot.services import staff
    from bot.storage import write_transaction

    write_transaction(db.session)
    try:
        user, password = staff.create(db.session, login, name or login, role, actor="cli")
    except staff.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"已创建{'管理员' if role == 'admin' else '工作人员'}账号 {user.login}，初始密码：{password}")
    click.echo("请登录 /staff 后在「修改密码」里改成自己的密码。")


@staff_cli.command("password")
@click.argument("login")
@with_appcontext
def staff_password(login: str) -> None:
    """Give an account a new generated password (also lifts a lock-out, ends its sessions)."""
    from bot.extensions import db
    from bot.services import staff
    from bot.storage import write_transaction

    write_transaction(db.session)
    user = staff.by_login(db.session, login)
    if user is None:
        raise click.ClickException(f"没有账号 {login}")
    password = staff.new_password()
    staff.set_password(db.session, user, password, actor="cli")
    db.session.commit()
    click.echo(f"账号 {user.login} 的新密码：{password}")


@staff_cli.command("first-run")
@with_appcontext
def staff_first_run() -> None:
    """Say how to reach the workbench (`make run`); in development, create a demo admin the first time."""
    from sqlalchemy import func, select

    from bot.extensions import db
    from bot.models import StaffUser
    from bot.services import staff
    from bot.storage import write_transaction

    click.echo("工作台: http://127.0.0.1:5000/staff")
    if db.session.scalar(select(func.count(StaffUser.id))):
        click.echo("  已有账号。忘记密码：.venv/bin/flask staff password LOGIN")
        return
    if current_app.config["ENV"] == "production":
        click.echo("  还没有账号。创建第一个管理员：flask staff create LOGIN --role admin --name 姓名")
        return
    write_transaction(db.session)
    user, password = staff.create(db.session, "demo", "演示管理员", "admin", actor="cli")
    db.session.commit()
    click.echo(f"  开发环境演示管理员：登录名 {user.login}  密码 {password}（只显示这一次）")
    click.echo("  正式账号：.venv/bin/flask staff create LOGIN --role admin --name 姓名")
