"""Blueprint /wechat: the unit of work around one WeChat message (wechatpy's order of operations).

verify (timestamp window, signature) → read safe XML → decrypt → parse (bot.wechat) → route free
text (answers.prepare) → one transaction (bot.hot_path): read the worker, their Dialog row and a
stored reply (a retry replays it) → dispatch → then, under the write lock, the writes only: the log
rows first (a concurrent duplicate fails on their unique dedupe key and replays the winner's
reply), the Dialog row if its version is still the one read, the worker's last-seen minute →
commit → reply XML, encrypted in safe mode.

A message whose handler does more than that (a booking, a hand-off, an application …) or whose
worker is new goes round again holding the write lock from the start (write_transaction), like a
message whose Dialog row changed under it; see `handle`.

https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
"""
from __future__ import annotations

import logging
from functools import cache

from flask import Blueprint, abort, current_app, request
from sqlalchemy import bindparam, inspect, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from wechatpy.replies import TextReply

from bot import answers, hot_path, message_log, texts, wechat
from bot.conversation import Conversation
from bot.dispatch import Ctx, Dispatcher
from bot.extensions import db
from bot.models import DeliveryReceipt, FeedbackVote, Message, RouteLog
from bot.storage import NeedsWriteLock, write_transaction

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__, url_prefix="/wechat")

RETRIES = 3
# Built once (bot.hot_path): the inbound row's reply, when a handler made the row be written early.
SET_REPLY = update(Message.__table__).where(Message.__table__.c.dedupe_key == bindparam("key")).values(
    reply_xml=bindparam("xml"))
# What a message may write after reading without the write lock, besides the log, its Dialog row
# (version-checked) and the worker's last-seen minute: rows that depend on nothing read elsewhere.
# Anything else a handler writes sends the message round again with the lock held from the start.
BLIND_INSERTS = (RouteLog, FeedbackVote, DeliveryReceipt)
BLIND_WORKER_CHANGES = frozenset({"subscribed", "subscribed_at", "unsubscribed_at", "scene"})


class _FirstMessage(Exception):
    """No worker row yet: the message goes round holding the write lock (it creates the row)."""


@cache
def dispatcher() -> Dispatcher:
    from bot.handlers import HANDLERS

    return Dispatcher(HANDLERS)


@bp.get("")
def verify():
    """URL verification: answer echostr verbatim when the signature is right."""
    args = request.args
    try:
        wechat.verify(current_app.config["WECHAT_TOKEN"], args.get("signature", ""), args.get("timestamp", ""),
                      args.get("nonce", ""), window=None)
    except wechat.Refused as exc:
        abort(exc.status)
    return args.get("echostr", ""), 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.post("")
def receive():
    cfg, args = current_app.config, request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    cipher = None
    try:
        wechat.verify(cfg["WECHAT_TOKEN"], args.get("signature", ""), timestamp, nonce, cfg["TIMESTAMP_WINDOW"])
        data = wechat.fields(request.get_data(cache=False))
        if args.get("encrypt_type", "raw").lower() == "aes":
            if not cfg["WECHAT_AES_KEY"]:
                abort(400)
            cipher = wechat.crypto(cfg["WECHAT_TOKEN"], cfg["WECHAT_AES_KEY"], cfg["WECHAT_APP_ID"])
            data = wechat.fields(wechat.decrypt(data, cipher, args.get("msg_signature", ""), timestamp, nonce))
        msg = wechat.message(data)
    except wechat.Refused as exc:
        abort(exc.status)
    reply_xml = handle(msg, prepare(msg))
    if not reply_xml:
        return "success", 200, {"Content-Type": "text/plain"}
    if cipher is not None:
        reply_xml = cipher.encrypt_message(reply_xml, nonce, timestamp)
    return reply_xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


def handle(msg, prepared=None) -> str:
    """Exactly once per delivery: one transaction, behind the unique dedupe key; retries replay the reply.

    The first try reads without the write lock and takes it for the writes only. It goes round
    again, holding the lock from the start, when the worker is new, when the handler wrote more
    than the message's own rows, or when the Dialog row changed under it."""
    key = wechat.dedupe_key(msg)
    locked, attempt = False, 0
    while attempt < RETRIES:
        unit = _unit(locked)
        try:
            return unit_of_work(unit, msg, key, prepared)
        except _FirstMessage:
            locked = True
            continue
        except (NeedsWriteLock, hot_path.Conflict) as exc:
            log.debug("%s again with the write lock held: %s", key, exc)
        except (IntegrityError, StaleDataError, OperationalError) as exc:
            unit.close()  # a concurrent delivery won (its reply is stored), or a lost update
            stored = _stored_reply(key)
            if stored is not None:
                return stored
            log.warning("retrying %s after %s", key, type(exc).__name__)
        except Exception:
            log.exception("failed to handle %s; answered with the busy apology (nothing was stored)", key)
            return wechat.render(TextReply(content=texts.SYSTEM_BUSY), msg)
        finally:
            unit.close()
        locked, attempt = True, attempt + 1
    return wechat.render(TextReply(content=texts.SYSTEM_BUSY), msg)


def _unit(locked: bool) -> hot_path.Unit:
    """A connection of the message's own, or the request's session when it is in a transaction
    already (a test's or a tool's app context): then the message goes on in it, as a writer."""
    if db.session.registry.has() and db.session().in_transaction():
        write_transaction(db.session)
        return hot_path.Unit.within(db.session)
    return hot_path.Unit.begin(db.engine, write=locked)


def _stored_reply(key: str) -> str | None:
    unit = hot_path.Unit.begin(db.engine)
    try:
        return hot_path.stored_reply(unit.conn, key)
    finally:
        unit.close()


def prepare(msg):
    """Work that needs no lock, done before BEGIN IMMEDIATE: routing free text (answers.prepare).
    If it fails, None: the same work then runs, and fails, inside the transaction as before."""
    if msg.type != "text":
        return None
    try:
        return answers.prepare(msg.content)
    except Exception:
        log.exception("routing a message ahead of the transaction failed")
        return None


def unit_of_work(unit: hot_path.Unit, msg, key: str, prepared) -> str:
    """One try: read, work out the reply, write (the write lock from the start unless reading first)."""
    snapshot = hot_path.read(unit.conn, msg.source, key, lock=not unit.reading_first)
    if snapshot.stored is not None:
        return snapshot.stored  # a retry of a delivery already answered: nothing to write
    if snapshot.worker is None and unit.reading_first:
        raise _FirstMessage
    worker = snapshot.worker if snapshot.worker is not None else hot_path.add_worker(unit.conn, msg.source)
    seen = hot_path.seen(worker)
    conversation = Conversation(unit, worker, current_app.config, prepared, snapshot.dialog)
    reply_xml, logged_early = process(msg, key, Ctx(config=current_app.config, conversation=conversation))
    if unit.reading_first:
        if unit.session_made is not None and not _blind_writes_only(unit.session_made, conversation.worker_made):
            raise NeedsWriteLock("the handler wrote more than the message's own rows")
        unit.begin_writing()
    # The writes, under the write lock on SQLite. The log rows go first: a delivery handled
    # meanwhile by another process fails here on the unique dedupe key (IntegrityError → replay).
    unit.write_log()
    if logged_early and reply_xml:
        unit.conn.execute(SET_REPLY, {"key": key, "xml": reply_xml})
    conversation.write()
    if seen is not None:
        hot_path.touch(unit.conn, worker["id"], seen)
    # INTEGRATION POINT (wt10a, outbox): parked messages go out as this message's passive reply:
    #     parked = outbox.take_parked(unit.session, worker["id"])
    # and, when there are any, reply_xml = wechat.render("\n\n".join([*parked, text]), msg)
    # here, under the lock (take_parked writes), before the commit.
    unit.commit()
    return reply_xml


def process(msg, key: str, ctx: Ctx) -> tuple[str, bool]:
    """Dispatch the message and log it with its reply; returns the reply XML and whether the inbound
    row was written already (its reply then needs an UPDATE). The place for modes in which the bot
    answers differently for a worker (e.g. staff using WeChat's own customer-service tool: log,
    stay silent)."""
    conversation = ctx.conversation
    unit, worker_id = conversation.unit, conversation.worker_id
    kind, content = wechat.describe(msg)
    # Logged now, written with the reply; a handler that reads the log (a hand-off transcript) makes
    # it be written earlier, which needs the write lock from the start.
    inbound = unit.log(worker_id, "in", kind, content, dedupe_key=key)
    reply = dispatcher()(msg, ctx)
    conversation.save()
    reply_xml = wechat.render(reply, msg)
    logged_early = not unit.pending(inbound)
    if not logged_early:
        inbound["reply_xml"] = reply_xml
    if reply_xml:
        text = reply if isinstance(reply, str) else getattr(reply, "content", "") or f"[{reply.type}]"
        unit.log(worker_id, "out", "reply", text)
    return reply_xml, logged_early


def _blind_writes_only(session, worker=None) -> bool:
    """Does the message write only what is safe after reading without the lock (BLIND_INSERTS)?"""
    if session.deleted or any(not isinstance(obj, BLIND_INSERTS) for obj in session.new):
        return False
    for obj in session.dirty:
        if obj is not worker:
            return False
        changed = {attr.key for attr in inspect(obj).attrs if attr.history.has_changes()}
        if not changed <= BLIND_WORKER_CHANGES:
            return False
    return True
