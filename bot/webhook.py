"""Blueprint /wechat: the unit of work around one WeChat message (wechatpy's order of operations).

verify (timestamp window, signature) → read safe XML → decrypt → parse (bot.wechat) → one
transaction: dedupe (a retry replays the stored reply) → worker row → dispatch → log → commit →
reply XML, encrypted in safe mode.

https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
"""
from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache

from flask import Blueprint, abort, current_app, request
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from wechatpy.replies import TextReply

from bot import answers, message_log, texts, wechat
from bot.clock import aware, now
from bot.conversation import Conversation
from bot.dispatch import Ctx, Dispatcher
from bot.extensions import db
from bot.models import Message, Worker
from bot.storage import write_transaction

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__, url_prefix="/wechat")

RETRIES = 3
LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # Worker.last_seen_at is kept to the minute
# Built once and reused with parameters: SQLAlchemy memoizes a statement's cache key, so a query
# built per message costs about twice as much (and it runs while the write lock is held).
STORED_REPLY = select(Message.reply_xml).where(Message.dedupe_key == bindparam("key"))
SET_REPLY = update(Message).where(Message.dedupe_key == bindparam("key")).values(
    reply_xml=bindparam("xml")).execution_options(synchronize_session=False)
WORKER_FOR_UPDATE = select(Worker).where(Worker.openid == bindparam("openid")).with_for_update()


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
    """Exactly once per MsgId: one transaction, behind the unique dedupe key; retries replay the reply."""
    key = wechat.dedupe_key(msg)
    for _attempt in range(RETRIES):
        try:
            write_transaction(db.session)
            stored = db.session.scalars(STORED_REPLY, {"key": key}).first()
            if stored is not None:
                db.session.rollback()  # nothing to write: give up the write lock now, not at teardown
                return stored
            reply_xml = process(msg, key, prepared)
            db.session.commit()
            return reply_xml
        except (IntegrityError, StaleDataError, OperationalError) as exc:
            db.session.rollback()  # a concurrent delivery won, or a lost update: go round again
            log.warning("retrying %s after %s", key, type(exc).__name__)
        except Exception:
            db.session.rollback()
            log.exception("failed to handle %s; answered with the busy apology (nothing was stored)", key)
            return wechat.render(TextReply(content=texts.SYSTEM_BUSY), msg)
    return wechat.render(TextReply(content=texts.SYSTEM_BUSY), msg)


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


def process(msg, key: str, prepared=None) -> str:
    worker = load_worker(msg.source)
    conversation = Conversation(db.session, worker, current_app.config, prepared)
    ctx = Ctx(worker=worker, session=db.session, config=current_app.config, conversation=conversation)
    kind, content = wechat.describe(msg)
    # Logged now, written with the reply at commit (bot.message_log); a handler that reads the log
    # (a hand-off transcript) writes it earlier. The unique dedupe key is the backstop; the SELECT
    # in handle() answers retries.
    inbound = message_log.record(db.session, worker.id, "in", kind, content, dedupe_key=key)
    reply = dispatcher()(msg, ctx)
    conversation.save()
    reply_xml = wechat.render(reply, msg)
    if message_log.pending(db.session, inbound):
        inbound["reply_xml"] = reply_xml
    elif reply_xml:
        db.session.execute(SET_REPLY, {"key": key, "xml": reply_xml})
    if reply_xml:
        text = reply if isinstance(reply, str) else getattr(reply, "content", "") or f"[{reply.type}]"
        message_log.record(db.session, worker.id, "out", "reply", text)
    return reply_xml


def load_worker(openid: str) -> Worker:
    worker = db.session.scalars(WORKER_FOR_UPDATE, {"openid": openid}).first()
    if worker is None:
        worker = Worker(openid=openid, subscribed=True)
        db.session.add(worker)
        db.session.flush()
    # To the minute: an UPDATE of the worker row for every message would only move this by seconds.
    t, seen = now(), aware(worker.last_seen_at)
    if seen is None or not timedelta(0) <= t - seen < LAST_SEEN_RESOLUTION:
        worker.last_seen_at = t
    return worker
