"""Every command-line tool of the bot, registered on the app in one place (`init_app`).

Commands that only wrap a domain service are defined here; the knowledge base's and the router's
own tools live beside them (bot/faq.py, bot/nlu/cli.py, bot/diagrams.py) and are registered here.
"""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    from bot.devserver import serve
    from bot.diagrams import flows_cli
    from bot.faq import faq_cli
    from bot.nlu.cli import nlu_cli
    from bot.outbox_cli import outbox_cli
    from bot.wechat_menu import wechat_cli

    wechat_cli.add_command(spool_command)
    for command in (chat, serve, outbox_cli, jobs_cli, faq_cli, nlu_cli, legal_aid_cli, export_command, flows_cli,
                    wechat_cli, staff_cli):
        app.cli.add_command(command)
    faq_cli.add_command(export_overlay)  # needs the database and the domain, so it is defined here


@click.command("export-overlay")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="FAQ directory (default: FAQ_DIR or ./faq)")
@with_appcontext
def export_overlay(directory: str | None) -> None:
    """Write the examples staff added in the workbench (the knowledge-base overlay) into faq/*.yaml."""
    from bot.extensions import db
    from bot.faq import faq_dir
    from bot.services import knowledge
    from bot.storage import write_transaction

    write_transaction(db.session)
    try:
        result = knowledge.export(db.session, Path(directory) if directory else faq_dir(), "cli")
    except knowledge.KnowledgeError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    if not result.rows:
        click.echo("没有需要导出的例句（工作台里添加的都已写入知识库文件）。")
        return
    click.echo(f"已把 {result.rows} 条例句写入 {', '.join(p.name for p in result.files) or '（文件里已有）'}。"
               "请用 git diff 检查后提交；运行中的机器人约 2 秒后用新文件重建问答路由。")


@click.command("spool")
@with_appcontext
def spool_command() -> None:
    """Handle the WeChat deliveries kept while the database was down (their answers go through the
    outbox). The scheduler's tick and the next message do this too."""
    from bot.webhook import drain_spool, spool_path

    counts = drain_spool()
    click.echo(f"{spool_path()}: handled {counts['handled']}, left {counts['left']}, unreadable {counts['unreadable']}")


@click.command("chat")
@click.option("--openid", default="o_terminal_worker", help="Which worker to be (WeChat OpenID).")
@with_appcontext
def chat(openid: str) -> None:
    """Talk to the bot as one worker, through the real webhook (signed, encrypted with a key)."""
    from bot.simulator import WeChatSim

    sim = WeChatSim(current_app.test_client(), current_app.config, openid=openid)
    mode = "安全模式 (AES)" if sim.encrypt else "明文模式"
    click.echo(f"职工之家 本地聊天 · {mode} · OpenID {openid}\n"
               "输入消息后回车；/关注 模拟关注，/菜单键 KEY 模拟点菜单，/语音 文字 模拟语音，/退出 结束。")
    click.echo("bot> " + sim.event("subscribe").replace("\n", "\n     "))
    while True:
        try:
            text = input("我> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            break
        if text in ("/退出", "/quit", "/exit"):
            break
        if text == "/关注":
            reply = sim.event("subscribe")
        elif text.startswith("/菜单键"):
            reply = sim.event("CLICK", text.removeprefix("/菜单键").strip())
        elif text.startswith("/语音"):
            reply = sim.voice(text.removeprefix("/语音").strip())
        elif text:
            reply = sim.say(text)
        else:
            continue
        click.echo("bot> " + (reply or "（无回复）").replace("\n", "\n     "))


@click.group("legal-aid")
def legal_aid_cli() -> None:
    """Legal-aid consultation slots."""


@legal_aid_cli.command("slots")
@click.option("--weeks", default=2, show_default=True, type=click.IntRange(1, 26), help="How many weeks ahead.")
@click.option("--schedule", "schedule_file", type=click.Path(exists=True, dir_okay=False),
              help="Weekly schedule (default: config/legal_aid_slots.yaml).")
@with_appcontext
def slots_command(weeks: int, schedule_file: str | None) -> None:
    """Create the consultation slots of the coming weeks from the weekly schedule (idempotent)."""
    import yaml

    from bot.clock import local_now
    from bot.extensions import db
    from bot.services import legal_aid

    path = schedule_file or Path(current_app.root_path) / "config" / "legal_aid_slots.yaml"
    try:
        schedule = legal_aid.load_schedule(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise click.ClickException(str(exc)) from None
    created, existing = legal_aid.create_slots(db.session, schedule, local_now().date(), weeks)
    db.session.commit()
    click.echo(f"新建 {created} 个咨询时段，已存在 {existing} 个（{weeks} 周，排班 {len(schedule)} 条）。")


@click.command("export")
@click.argument("dataset", type=click.Choice(["membership", "home-office", "legal-aid", "escalations"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]),
              help="File format (default: from the --out suffix, else csv).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write.")
@click.option("--unmasked", is_flag=True,
              help="Full ID numbers instead of 110105********002X (asks first; file mode 0600; audited).")
@click.option("--yes", is_flag=True, help="With --unmasked: do not ask for confirmation.")
@with_appcontext
def export_command(dataset: str, fmt: str | None, out: str, unmasked: bool, yes: bool) -> None:
    """Export records for staff reports: membership | home-office | legal-aid | escalations."""
    from bot import audit
    from bot.extensions import db
    from bot.services.export import export
    from bot.storage import write_transaction

    fmt = fmt or ("xlsx" if out.lower().endswith(".xlsx") else "csv")
    if unmasked and not yes:  # asked on a terminal; with no answer on stdin (cron, CI) click aborts
        click.confirm("导出的文件将包含完整身份证号。确定导出吗？", abort=True)
    count = export(db.session, dataset, fmt, out, unmasked=unmasked)
    if unmasked:  # which report, how many rows, which file: never its contents
        db.session.rollback()  # end the read: the audit row is written in a writer's transaction
        write_transaction(db.session)
        audit.record(db.session, "cli", "export.unmasked", "report", dataset, report=dataset, rows=count,
                     file=Path(out).name, format=fmt)
        db.session.commit()
    click.echo(f"已导出 {count} 行到 {out}")
    if unmasked:
        click.echo("注意：文件包含完整身份证号，只有您的账户能读取，请妥善保管，用完及时删除。", err=True)


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
