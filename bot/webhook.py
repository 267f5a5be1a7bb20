"""Blueprint /wechat: verify → decrypt → parse → dedupe → dispatch → reply → encrypt (wechatpy's order).

https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Message_encryption_and_decryption_instructions.html
"""
from __future__ import annotations

import logging
import re
import struct
import time
from datetime import timedelta
from functools import cache

import xmltodict
from flask import Blueprint, abort, current_app, request
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import BaseReply, EmptyReply, TextReply
from wechatpy.utils import check_signature

from bot import answers, message_log, texts
from bot.clock import aware, now
from bot.dialog import DialogEngine
from bot.dispatch import Ctx, Dispatcher
from bot.extensions import db
from bot.models import Message, Worker
from bot.storage import write_transaction

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__, url_prefix="/wechat")

CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>", re.S)
DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.I)
TEXT_LIMIT_BYTES = 2000  # WeChat refuses passive text replies over 2048 bytes
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
        check_signature(current_app.config["WECHAT_TOKEN"], args.get("signature", ""),
                        args.get("timestamp", ""), args.get("nonce", ""))
    except InvalidSignatureException:
        abort(403)
    return args.get("echostr", ""), 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.post("")
def receive():
    cfg, args = current_app.config, request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > cfg["TIMESTAMP_WINDOW"]:
        abort(403)
    try:
        check_signature(cfg["WECHAT_TOKEN"], args.get("signature", ""), timestamp, nonce)
    except InvalidSignatureException:
        abort(403)
    xml = read_xml(request.get_data(cache=False))
    encrypted = args.get("encrypt_type", "raw").lower() == "aes"
    if encrypted:
        xml = decrypt(xml, args.get("msg_signature", ""), timestamp, nonce)
    msg = parse(xml)
    reply_xml = handle(msg, prepare(msg))
    if not reply_xml:
        return "success", 200, {"Content-Type": "text/plain"}
    if encrypted:
        reply_xml = crypto().encrypt_message(reply_xml, nonce, timestamp)
    return reply_xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


def read_xml(body: bytes) -> str:
    """UTF-8 text with no DTD: entity bombs and XXE are refused before any parser sees them."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        abort(400)
    if not text.strip() or DTD.search(CDATA.sub("", text)):
        abort(400)
    return text


@cache
def _crypto(token: str, aes_key: str, app_id: str) -> WeChatCrypto:
    return WeChatCrypto(token, aes_key, app_id)


def crypto() -> WeChatCrypto:
    cfg = current_app.config
    if not cfg["WECHAT_AES_KEY"]:
        abort(400)
    return _crypto(cfg["WECHAT_TOKEN"], cfg["WECHAT_AES_KEY"], cfg["WECHAT_APP_ID"])


def decrypt(xml: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    envelope = xml_root(xml)
    if not isinstance(envelope.get("Encrypt"), str):
        abort(400)
    try:
        plain = crypto().decrypt_message(envelope, msg_signature, timestamp, nonce)
    except InvalidSignatureException:
        abort(403)
    except (InvalidAppIdException, ValueError, TypeError, KeyError, IndexError, struct.error):
        abort(400)  # bad base64, not whole AES blocks, bad padding, another account's AppID
    return read_xml(plain.encode("utf-8"))


def xml_root(xml: str) -> dict:
    try:
        root = xmltodict.parse(xml)
    except (xmltodict.expat.ExpatError, ValueError):
        abort(400)
    if not isinstance(root, dict) or not isinstance(root.get("xml"), dict):
        abort(400)
    return root["xml"]


def parse(xml: str):
    """wechatpy's parser, after checking the fields every message must have."""
    fields = xml_root(xml)
    if not all(isinstance(fields.get(k), str) and fields[k] for k in ("MsgType", "FromUserName", "ToUserName")):
        abort(400)
    try:
        msg = parse_message(xml)
        msg.id, msg.time  # noqa: B018 – wechatpy converts lazily; force it while we can still say 400
    except (ValueError, TypeError, KeyError, AttributeError):
        abort(400)
    return msg


def dedupe_key(msg) -> str:
    if msg.type != "event" and msg.id:
        return f"msg:{msg.id}"
    # Two different menu clicks in the same second are two events: the key is part of the identity.
    return f"evt:{msg.source}:{msg.time}:{getattr(msg, 'event', '')}:{getattr(msg, 'key', '') or ''}"[:128]


def describe(msg) -> tuple[str, str]:
    """(kind, content) for the message log."""
    if msg.type == "event":
        return f"event:{getattr(msg, 'event', '')}", str(getattr(msg, "key", "") or "")
    content = {"text": getattr(msg, "content", None), "voice": getattr(msg, "recognition", None),
               "location": getattr(msg, "label", None)}.get(msg.type)
    return msg.type, content or f"[{msg.type}]"


def handle(msg, prepared=None) -> str:
    """Exactly once per MsgId: one transaction, behind the unique dedupe key; retries replay the reply."""
    key = dedupe_key(msg)
    for attempt in range(RETRIES):
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
            log.exception("failed to handle %s; WeChat will retry", key)
            return render(TextReply(content=texts.SYSTEM_BUSY), msg)
    return render(TextReply(content=texts.SYSTEM_BUSY), msg)


def prepare(msg):
    """Work that needs no lock, done before BEGIN IMMEDIATE: routing free text (answers.prepare).
    If it fails, None: the same work then runs, and fails, inside the transaction as before."""
    if msg.type != "text":
        return None
    try:
        return answers.prepare(msg.content)
    except Exception:
        log.exception("routing %r ahead of the transaction failed", (msg.content or "")[:40])
        return None


def process(msg, key: str, prepared=None) -> str:
    worker = load_worker(msg.source)
    ctx = Ctx(worker=worker, session=db.session, dialog=DialogEngine(db.session, worker, current_app.config, prepared),
              config=current_app.config)
    kind, content = describe(msg)
    # Logged now, written with the reply at commit (bot.message_log); a handler that reads the log
    # (a hand-off transcript, ID masking) writes it earlier. The unique dedupe key is the backstop;
    # the SELECT in handle() answers retries.
    inbound = message_log.record(db.session, worker.id, "in", kind, content, dedupe_key=key)
    reply = dispatcher()(msg, ctx)
    reply_xml = render(reply, msg)
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


def render(reply, msg) -> str:
    """Reply XML ("" for nothing to say). `]]>` in text is split so it cannot end the CDATA early."""
    if reply is None or isinstance(reply, EmptyReply):
        return ""
    if isinstance(reply, str):
        reply = TextReply(content=reply)
    if isinstance(reply, TextReply):
        content = fit(reply.content or "")
        reply.content = content.replace("]]>", "]]]]><![CDATA[>")
    assert isinstance(reply, BaseReply)
    reply.source, reply.target = msg.target, msg.source
    return reply.render()


def fit(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= TEXT_LIMIT_BYTES:
        return text
    return data[:TEXT_LIMIT_BYTES - 3].decode("utf-8", "ignore") + "…"
