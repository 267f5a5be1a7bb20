"""The unit of work around one WeChat delivery: exactly once, the write lock for the writes only.

route free text (answers.prepare, no lock) → one read (bot.hot_path: the worker, their Dialog row,
a stored reply — a retry replays it —, their messages of the last FLOOD_SECONDS) → flood control
→ dispatch → then, under the write lock, the writes only: the log rows first (a concurrent duplicate
fails on their unique dedupe key and replays the winner's reply), the Dialog row if its version is
still the one read, the worker's last-seen minute → commit.

A message whose handler does more than that (a booking, a hand-off, an application …) or whose
worker is new goes round again holding the write lock from the start, like a message whose Dialog
row changed under it. An answer ready only after WeChat stopped waiting (REPLY_DEADLINE_SECONDS;
WeChat waits 5 s) goes to the worker through the outbox (purpose late_reply) and the delivery's
stored reply becomes "success", so a retry does not answer twice. When storage itself fails,
StorageFault tells the webhook, which keeps the delivery in the spool (bot/webhook.py).

https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
"""
from __future__ import annotations

import logging
import time
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, inspect, update
from sqlalchemy.exc import DBAPIError, IntegrityError, TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from wechatpy.replies import TextReply

from bot import answers, hot_path, outbox, texts, wechat
from bot.conversation import Conversation
from bot.dispatch import Ctx, Dispatcher
from bot.extensions import db
from bot.models import DeliveryReceipt, FeedbackVote, Message, RouteLog
from bot.nlu.store import ready as router_ready
from bot.storage import NeedsWriteLock, write_transaction

log = logging.getLogger(__name__)
RETRIES = 3
# Built once (bot.hot_path): the inbound row's reply, when a handler made the row be written early.
SET_REPLY = update(Message.__table__).where(Message.__table__.c.dedupe_key == bindparam("key")).values(
    reply_xml=bindparam("xml"))
# What a message may write after reading without the write lock, besides the log, its Dialog row
# (version-checked) and the worker's last-seen minute: rows that depend on nothing read elsewhere.
# Anything else a handler writes sends the message round again with the lock held from the start.
BLIND_INSERTS = (RouteLog, FeedbackVote, DeliveryReceipt)
BLIND_WORKER_CHANGES = frozenset({"subscribed", "subscribed_at", "unsubscribed_at", "scene", "last_seen_at"})
# PostgreSQL's "try the transaction again" errors (deadlock, serialization): worth another round.
RETRY_SQLSTATES = ("40001", "40P01")


class StorageFault(Exception):
    """The database cannot take the message now (disk full, file missing, lock held too long, server
    down): nothing of it was stored."""


class _FirstMessage(Exception):
    """No worker row yet: the message goes round holding the write lock (it creates the row)."""


@cache
def dispatcher() -> Dispatcher:
    from bot.handlers import HANDLERS

    return Dispatcher(HANDLERS)


def handle(msg, prepared=None, *, deadline: float | None = None) -> str:
    """Exactly once per delivery; returns the reply XML ("" for nothing, or when the answer went
    through the outbox). `deadline`: the time.monotonic() after which WeChat no longer waits for
    this answer (None: nobody waits, e.g. a delivery from the spool). StorageFault when the
    database cannot take the message."""
    key = wechat.dedupe_key(msg)
    routed = _Routed(msg, prepared)
    if not router_ready():
        # The first routing in a process loads the index and reads the knowledge-base overlay on a
        # connection of its own: never while this message holds one (a burst of first messages
        # would take the whole pool and wait for one more).
        routed.get()
    locked, attempt = False, 0
    while attempt < RETRIES:
        if locked:
            routed.get()  # never routing while holding the write lock
        unit = None
        try:
            unit = _unit(locked)
            return unit_of_work(unit, msg, key, routed, deadline)
        except _FirstMessage:
            locked = True
            continue
        except (NeedsWriteLock, hot_path.Conflict) as exc:
            log.debug("%s again with the write lock held: %s", key, exc)
        except (IntegrityError, StaleDataError) as exc:
            unit.close()  # a concurrent delivery won (its reply is stored), or a lost update
            stored = _stored_reply(key)
            if stored is not None:
                return stored
            log.warning("retrying %s after %s", key, type(exc).__name__)
        except (DBAPIError, PoolTimeout) as exc:
            if not _worth_retrying(exc):
                raise StorageFault(f"{type(exc).__name__}: {getattr(exc, 'orig', exc)}") from exc
            log.warning("retrying %s after %s", key, type(exc).__name__)
        except Exception:
            log.exception("failed to handle %s; answered with the busy apology (nothing was stored)", key)
            return wechat.render(TextReply(content=texts.SYSTEM_BUSY), msg)
        finally:
            if unit is not None:
                unit.close()
        locked, attempt = True, attempt + 1
    raise StorageFault(f"{key} could not be stored in {RETRIES} tries (other messages of the worker kept winning)")


class _Routed:
    """Routing free text (answers.prepare), worked out once and outside the write lock, and only
    when the message is routed at all (a flooding worker's are not)."""

    def __init__(self, msg, prepared=None):
        self.msg, self.value, self.done = msg, prepared, prepared is not None

    def get(self):
        if not self.done:
            self.value, self.done = prepare(self.msg), True
        return self.value


def prepare(msg):
    """Routing free text (answers.prepare): no database. If it fails, None: the same work then runs,
    and fails, in the handler."""
    if msg.type != "text":
        return None
    try:
        return answers.prepare(msg.content)
    except Exception:
        log.exception("routing a message ahead of the transaction failed")
        return None


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


def _worth_retrying(exc) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRY_SQLSTATES


def unit_of_work(unit: hot_path.Unit, msg, key: str, routed: _Routed, deadline: float | None) -> str:
    """One try: read, work out the reply, write (the write lock from the start unless reading first)."""
    cfg = current_app.config
    window = int(cfg.get("FLOOD_SECONDS", 60))
    snapshot = hot_path.read(unit.conn, msg.source, key, lock=not unit.reading_first, window=window)
    if snapshot.stored is not None:
        return snapshot.stored  # a retry of a delivery already answered: nothing to write
    if snapshot.worker is None and unit.reading_first:
        raise _FirstMessage
    worker = snapshot.worker if snapshot.worker is not None else hot_path.add_worker(unit.conn, msg.source)
    limit = int(cfg.get("FLOOD_MESSAGES", 0))
    if limit and msg.type != "event" and snapshot.recent >= limit:
        return flood(unit, msg, key, worker["id"], first=snapshot.recent == limit, window=window)
    seen = hot_path.seen(worker)
    conversation = Conversation(unit, worker, cfg, routed.get(), snapshot.dialog)
    reply, inbound = process(msg, key, Ctx(config=cfg, conversation=conversation))
    if unit.reading_first:
        if unit.session_made is not None and not _blind_writes_only(unit.session_made, conversation.worker_made):
            raise NeedsWriteLock("the handler wrote more than the message's own rows")
        unit.begin_writing()
    # The write lock is held from here (SQLite): only writes follow.
    late = deadline is None or time.monotonic() > deadline
    if snapshot.parked and not late and _can_carry(msg, reply):
        reply = _with_parked(unit, worker["id"], _text(reply) if reply else "")
    reply_xml = wechat.render(reply, msg)
    if reply_xml and late:  # WeChat stopped waiting: the answer goes through the outbox
        outbox.queue_late_reply(unit.session, worker["id"], _text(reply), f"late_reply:{key}")
        log.info("%s answered after WeChat stopped waiting: the reply goes through the outbox (late_reply)", key)
        reply_xml = ""
    logged_early = not unit.pending(inbound)
    if not logged_early:
        inbound["reply_xml"] = reply_xml
    if reply_xml:
        unit.log(worker["id"], "out", "reply", _text(reply))
    # The log rows go first: a delivery handled meanwhile by another process fails here on the
    # unique dedupe key (IntegrityError → replay).
    unit.write_log()
    if logged_early:
        unit.conn.execute(SET_REPLY, {"key": key, "xml": reply_xml})
    conversation.write()
    if seen is not None:
        hot_path.touch(unit.conn, worker["id"], seen)
    unit.commit()
    return reply_xml


def process(msg, key: str, ctx: Ctx):
    """Dispatch the message and log it; returns the reply and the inbound log row. The place for
    modes in which the bot answers differently for a worker (e.g. staff using WeChat's own
    customer-service tool: log, stay silent)."""
    conversation = ctx.conversation
    kind, content = wechat.describe(msg)
    # Logged now, written with the reply; a handler that reads the log (a hand-off transcript) makes
    # it be written earlier (its reply is then set with an UPDATE), which needs the write lock.
    inbound = conversation.unit.log(conversation.worker_id, "in", kind, content, dedupe_key=key)
    reply = dispatcher()(msg, ctx)
    conversation.save()
    return reply, inbound


def flood(unit: hot_path.Unit, msg, key: str, worker_id: int, first: bool, window: int) -> str:
    """Beyond FLOOD_MESSAGES in FLOOD_SECONDS: logged, not routed; the first one over is told to wait."""
    kind, content = wechat.describe(msg)
    reply_xml = wechat.render(texts.FLOOD, msg) if first else ""
    inbound = unit.log(worker_id, "in", kind, content, dedupe_key=key)
    inbound["reply_xml"] = reply_xml
    if first:
        unit.log(worker_id, "out", "flood", texts.FLOOD)
        log.warning("worker %s sent more than %s messages in %s s: logged, not routed, until the rate drops",
                    worker_id, current_app.config.get("FLOOD_MESSAGES"), window)
    unit.begin_writing()
    unit.write_log()
    unit.commit()
    return reply_xml


def _can_carry(msg, reply) -> bool:
    """A passive reply can carry parked messages: a text reply, or none, to a message the worker
    sent (not an unsubscribe: no one reads that reply)."""
    if getattr(msg, "event", None) == "unsubscribe":
        return False
    return reply is None or isinstance(reply, (str, TextReply))


def _with_parked(unit: hot_path.Unit, worker_id: int, text: str) -> str:
    """The parked messages that fit before this reply (oldest first), marked delivered; those that
    do not fit go to the sender, the worker's window being open again (outbox.take_parked)."""
    room = wechat.TEXT_LIMIT_BYTES - len(text.encode("utf-8")) - 2
    parked = outbox.take_parked(unit.session, worker_id, room=room)
    return "\n\n".join([*parked, text]) if text else "\n\n".join(parked)


def _text(reply) -> str:
    return reply if isinstance(reply, str) else getattr(reply, "content", "") or f"[{reply.type}]"


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
