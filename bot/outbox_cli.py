"""`flask outbox send | status | resume`: run senders, see what is queued and why sending stopped."""
from __future__ import annotations

import multiprocessing
import signal
import threading
from collections import Counter

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

outbox_cli = click.Group("outbox", help="Messages queued for the WeChat API.")
SHOWN_FIRST = ("sent", "retry", "failed", "skipped", "parked", "unknown")


@outbox_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep sending: drain, wait --interval seconds, again (SIGTERM stops).")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between runs with --loop.")
@click.option("--processes", default=1, show_default=True, help="Sender processes (each claims its own rows).")
@click.option("--batch", type=int, default=None, help="Rows claimed at a time [default: OUTBOX_BATCH].")
@with_appcontext
def outbox_send(loop: bool, interval: float, processes: int, batch: int | None) -> None:
    """Send what is due through the WeChat API (customer-service, template or parked)."""
    config = {k: v for k, v in current_app.config.items()
              if k.isupper() and isinstance(v, (str, int, float, bool, type(None)))}
    if batch:
        config["OUTBOX_BATCH"] = batch
    if processes <= 1:
        _run(config, loop, interval, in_app=True)
        return
    # spawn, not fork: each process opens its own database connections and HTTP sessions.
    ctx = multiprocessing.get_context("spawn")
    factory = current_app.extensions["app_factory"]  # app.create_app, pickled by name for spawn
    children = [ctx.Process(target=_child, args=(factory, config, loop, interval), name=f"outbox-sender-{i}")
                for i in range(processes)]
    for child in children:
        child.start()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while any(c.is_alive() for c in children) and not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: it finishes the message it is sending, then stops
        for child in children:
            child.join(timeout=30)
    failed = [c.name for c in children if c.exitcode and not stop.is_set()]
    if failed:
        raise click.ClickException(f"sender processes failed: {', '.join(failed)}")


def _child(factory, config: dict, loop: bool, interval: float) -> None:
    """A spawned sender process: it builds its own app with the factory, as `flask` does."""
    with factory(config).app_context():
        _run(config, loop, interval, in_app=False)


def _run(config: dict, loop: bool, interval: float, in_app: bool) -> None:
    from bot import wechat_api, wechat_stops
    from bot.extensions import db
    from bot.sender import Sender

    stop = threading.Event()
    restore = None
    if loop and threading.current_thread() is threading.main_thread():
        restore = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sender = Sender(wechat_api.client(), config, should_stop=stop.is_set)
    announced = False
    try:
        while True:
            counts = sender.drain()
            if not loop or any(counts[k] for k in counts if k not in ("claimed", "stopped")):
                click.echo(_format(counts))
            if counts["stopped"] and not announced:  # say it once, not every --interval
                for s in wechat_stops.stops(db.session):
                    click.echo(s.describe(), err=True)
                db.session.rollback()
            announced = bool(counts["stopped"])
            if not loop or stop.wait(interval):
                break
    except KeyboardInterrupt:
        pass
    finally:
        sender.close()
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)
        if not in_app:
            db.session.remove()


def _format(counts: Counter) -> str:
    rest = sorted(k for k in counts if k not in SHOWN_FIRST and counts[k])
    return " ".join(f"{k}={counts[k]}" for k in (*SHOWN_FIRST, *rest))


@outbox_cli.command("status")
@with_appcontext
def outbox_status() -> None:
    """Rows by status and purpose, and whether sending is stopped (40164) or paused (45009)."""
    from bot import wechat_stops
    from bot.extensions import db
    from bot.models import Outbox

    rows = db.session.execute(select(Outbox.status, Outbox.purpose, func.count())
                              .group_by(Outbox.status, Outbox.purpose)).all()
    by_status: Counter = Counter()
    for status, _purpose, n in rows:
        by_status[status] += n
    click.echo("outbox: " + (" ".join(f"{s}={n}" for s, n in sorted(by_status.items())) or "empty"))
    for status, purpose, n in sorted(rows):
        click.echo(f"  {status:<10} {purpose:<12} {n}")
    stops = wechat_stops.stops(db.session)
    for s in stops:
        click.echo(s.describe())
    if not stops:
        click.echo("sending: running (no stop or pause)")


@outbox_cli.command("resume")
@with_appcontext
def outbox_resume() -> None:
    """Let sending start again after the server's IP was added to WeChat's IP whitelist."""
    from bot import wechat_stops
    from bot.extensions import db
    from bot.storage import write_transaction

    write_transaction(db.session)
    cleared = wechat_stops.resume(db.session, actor="cli")
    db.session.commit()
    click.echo(f"sending resumed ({cleared} stop(s) cleared)" if cleared else "sending was not stopped")
