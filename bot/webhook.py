"""Blueprint /wechat: what WeChat sees of one delivery (wechatpy's order of operations).

verify (timestamp window, signature) → read safe XML → decrypt → parse (bot.wechat) → the unit of
work (bot/unit_of_work.py) → reply XML, encrypted in safe mode.

A delivery WeChat made is never lost. When the database cannot take it (StorageFault), it is
kept in the spool (bot/spool.py, fsynced) and the worker is told the answer will follow; the
spool is drained when storage works again (after a later message, by the scheduler's tick, or
`flask wechat spool`) and each answer goes through the outbox. When even the spool cannot be
written, the only thing WeChat documents it retries on is used: no response within 5 seconds
(it tries three times in all), so the response is held past that.

https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
"""
from __future__ import annotations

import logging
import time

from flask import Blueprint, abort, current_app, request
from wechatpy.replies import TextReply

from bot import spool, texts, wechat
from bot.unit_of_work import StorageFault, handle

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__, url_prefix="/wechat")
DRAIN_AFTER_REPLY = 20  # spooled deliveries handled after one response (the rest: the next ones, the tick)


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
    received = time.monotonic()
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
    try:
        reply_xml = handle(msg, deadline=received + float(cfg["REPLY_DEADLINE_SECONDS"]))
    except StorageFault as fault:
        reply_xml = keep_for_later(msg, data, fault, received)
    else:
        _drain_after_reply()
    if not reply_xml:
        return "success", 200, {"Content-Type": "text/plain"}
    if cipher is not None:
        reply_xml = cipher.encrypt_message(reply_xml, nonce, timestamp)
    return reply_xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


def keep_for_later(msg, data: dict, fault: StorageFault, received: float) -> str:
    """The database refused the delivery: keep it in the spool and tell the worker, or, when the spool
    cannot be written either, make WeChat try again (its retries are the last place it lives)."""
    key, path = wechat.dedupe_key(msg), spool_path()
    record = {"key": key, "fields": data, "received_at": time.time(), "why": str(fault)[:300]}
    if spool.keep(path, record):
        log.warning("storage failed for %s (%s): kept in the spool %s; it is handled when storage works "
                    "again and the answer goes through the outbox", key, fault, path)
        return wechat.render(TextReply(content=texts.RECEIVED_LATER), msg)
    hold = float(current_app.config["WECHAT_RETRY_HOLD_SECONDS"])
    log.error("storage failed for %s (%s) and the spool %s could not be written: holding the response "
              "%.1f s so that WeChat tries again (it tries 3 times in all; if storage is still down then, "
              "the message is lost)", key, fault, path, hold)
    time.sleep(max(0.0, received + hold - time.monotonic()))
    abort(503)


def spool_path():
    """This app's spool (bot/spool.py path_for), worked out once per app."""
    found = current_app.extensions.get("wechat_spool")
    if found is None:
        found = current_app.extensions["wechat_spool"] = spool.path_for(current_app.config, current_app.instance_path)
    return found


def drain_spool(limit: int | None = None) -> dict[str, int]:
    """Handle the deliveries kept in the spool; each answer goes through the outbox (nobody waits)."""

    def handle_kept(record: dict) -> bool:
        try:
            msg = wechat.message(record["fields"])
        except (wechat.Refused, KeyError, TypeError):
            log.error("spooled delivery %s cannot be read; dropped", record.get("key"))
            return True
        try:
            handle(msg, deadline=None)
        except StorageFault as fault:
            log.warning("the spool still waits for storage (%s)", fault)
            return False
        log.info("spooled delivery %s handled %.0f s after it arrived; its answer goes through the outbox",
                 record.get("key"), time.time() - float(record.get("received_at") or time.time()))
        return True

    return spool.drain(spool_path(), handle_kept, limit=limit)


def _drain_after_reply() -> None:
    """Storage works: deliveries still in the spool are handled once this response is sent."""
    if not spool.ready(spool_path()):
        return
    from flask import after_this_request

    app = current_app._get_current_object()

    @after_this_request
    def later(response):
        def run():
            with app.app_context():
                drain_spool(limit=DRAIN_AFTER_REPLY)

        response.call_on_close(run)
        return response
