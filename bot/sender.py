"""The outbox sender: claims due rows under a lease and sends each through the WeChat API.

Several senders on several machines never send one row twice: a sender claims a batch in one
short write transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on SQLite), marking
the rows `claimed` with its name and the time; every later change of a row checks that name, so a
sender whose lease ran out (OUTBOX_LEASE_SECONDS) and whose rows were taken over changes nothing.

Just before each API call the row becomes `sending` (committed); right after the call, its result
(committed with the markers of the next calls: a sender keeps OUTBOX_CONCURRENCY calls in flight,
and one commit covers what came back and what starts). A sender that dies leaves at most that many
rows `sending`; when its lease runs out such a row becomes what outbox.after_crash() says for
its purpose (reminder: `unknown`; staff replies, decisions, late replies: sent again; a template:
sent again, WeChat drops the duplicate by client_msg_id). Rows it had only claimed go back to
`pending`. The statements a message pays for are built once (bench/README.md, outbox.py).
"""
from __future__ import annotations

import logging
import os
import random
import secrets
import socket
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, or_, select

from bot import message_log, outbox, wechat_api, wechat_stops, wechat_templates
from bot.clock import now
from bot.extensions import db
from bot.models import Outbox, Worker
from bot.storage import write_transaction
from bot.wechat_api import Delivery

log = logging.getLogger(__name__)
CRASH_NOTE = {"pending": "sender stopped during the API call; sent again (at least once)",
              "unknown": "sender stopped during the API call: maybe sent, not sent again (reminders: at most once)"}
PARKED_NOTE = "客服消息窗口已关闭且没有合适的模板：已暂存，对方下次发消息时送达"

T = Outbox.__table__  # Core statements on the table: no ORM bookkeeping per message
DUE = (select(T.c.id).where(T.c.status == "pending", or_(T.c.not_before.is_(None), T.c.not_before <= bindparam("t")))
       .order_by(T.c.id).limit(bindparam("n")).with_for_update(skip_locked=True))
CLAIM = (T.update().where(T.c.id.in_(bindparam("ids", expanding=True)))
         .values(status="claimed", claimed_by=bindparam("me"), claimed_at=bindparam("t")))
CLAIMED = (select(T.c.id, T.c.kind, T.c.purpose, T.c.payload, T.c.dedupe_key, T.c.attempts, Worker.id, Worker.openid,
                  Worker.subscribed, Worker.last_seen_at, T.c.sent_as)
           .join(Worker, Worker.id == T.c.worker_id)
           .where(T.c.id.in_(bindparam("ids", expanding=True))).order_by(T.c.id))
MINE = (T.c.id == bindparam("oid"), T.c.claimed_by == bindparam("me"))
IN_FLIGHT = (T.update().where(*MINE, T.c.status == "claimed").values(
    status="sending", attempts=T.c.attempts + 1, claimed_at=bindparam("t"), sent_as=bindparam("route")))
SENT = T.update().where(*MINE, T.c.status == "sending").values(status="sent", sent_at=bindparam("t"),
                                                                 wechat_msg_id=bindparam("msgid"))


@dataclass(frozen=True)
class Settings:
    max_attempts: int = 5
    backoff: float = 30.0  # seconds before the first retry; doubles each time, with jitter
    backoff_max: float = 3600.0
    lease: timedelta = timedelta(seconds=120)
    batch: int = 50
    concurrency: int = 4  # calls in flight per sender: a crash leaves at most this many rows `sending`

    @classmethod
    def of(cls, config) -> Settings:
        return cls(int(config.get("OUTBOX_MAX_ATTEMPTS", 5)), float(config.get("OUTBOX_BACKOFF_SECONDS", 30)),
                   float(config.get("OUTBOX_BACKOFF_MAX_SECONDS", 3600)),
                   timedelta(seconds=float(config.get("OUTBOX_LEASE_SECONDS", 120))),
                   int(config.get("OUTBOX_BATCH", 50)), max(1, int(config.get("OUTBOX_CONCURRENCY", 4))))


@dataclass
class Job:
    """A claimed row and its worker, as read at claim time."""

    id: int
    kind: str
    purpose: str
    payload: dict
    dedupe_key: str
    attempts: int
    worker_id: int
    openid: str
    subscribed: bool
    last_seen_at: datetime | None
    prior_route: str | None  # "template" when an earlier attempt went out as one: keep it (client_msg_id)

    @property
    def worker(self) -> _WorkerView:  # what outbox.windows() reads
        return _WorkerView(self.worker_id, self.last_seen_at)


@dataclass(frozen=True)
class _WorkerView:
    id: int
    last_seen_at: datetime | None


@dataclass
class Sender:
    api: object
    config: dict
    name: str = field(default_factory=lambda: f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}")
    should_stop: Callable[[], bool] = lambda: False

    def __post_init__(self):
        self.settings = Settings.of(self.config)
        self.templates = wechat_templates.load(self.config)
        self.random = random.Random()
        self.stopped = False
        self.unfollowed: set[int] = set()  # workers WeChat said unfollowed (43004) during this run
        self.windows: dict[int, outbox.Window] = {}  # this batch's workers, counted as we send
        self.pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="outbox-call") \
            if self.settings.concurrency > 1 else None

    def run_once(self, limit: int | None = None) -> Counter:
        """Claim up to `limit` due rows once and send them; counts by outcome."""
        return self._run(limit or self.settings.batch, refill=False)

    def drain(self) -> Counter:
        """Send everything that is due now, claiming the next batch while the last calls of one are
        still out (retries that are not due yet stay for a later run)."""
        return self._run(self.settings.batch, refill=True)

    def _run(self, limit: int, refill: bool) -> Counter:
        """Keep up to `concurrency` calls in flight. Each round is one commit: the results of the
        calls that came back, a new claim when the queue runs low, the in-flight markers of the
        calls about to start."""
        counts: Counter = Counter()
        waiting, running, back, claiming = deque(), {}, [], True
        self.windows, self.unfollowed, self.stopped = {}, set(), False  # per run: a stop is looked up again
        try:
            while True:
                write_transaction(db.session)
                for job, route, result in back:
                    self._record(job, route, result, counts)
                back, starting = [], []
                if claiming and len(waiting) < self.settings.concurrency and not self._stopping():
                    claimed = self._claim(limit, counts)
                    waiting.extend(claimed)
                    claiming = refill and bool(claimed)
                busy = {job.worker_id for job, _ in running.values()}
                while len(running) + len(starting) < self.settings.concurrency and not self._stopping():
                    job = _next_for_idle_worker(waiting, busy)
                    if job is None:
                        break
                    attempt = self._prepare(job, counts)
                    if attempt is not None:
                        starting.append((job, attempt))
                        busy.add(job.worker_id)
                if self._stopping():
                    self._release(list(waiting), counts)
                    waiting.clear()
                db.session.commit()
                for job, (route, body) in starting:  # no transaction is open during the calls
                    if self.pool is None:
                        back.append((job, route, wechat_api.deliver(self.api, route, body)))
                    else:
                        running[self.pool.submit(wechat_api.deliver, self.api, route, body)] = (job, route)
                if running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    back += [(*running.pop(future), future.result()) for future in done]
                elif not (back or waiting or (claiming and not self._stopping())):
                    return counts
        except BaseException:
            db.session.rollback()  # what stays claimed / sending is recovered when the lease runs out
            wait(running, timeout=self.settings.lease.total_seconds())
            raise

    def _stopping(self) -> bool:
        return self.stopped or self.should_stop()

    def _claim(self, limit: int, counts: Counter) -> list[Job]:
        """Claim due rows, in the round's write transaction (nothing when sending is stopped)."""
        session = db.session
        if wechat_stops.stops(session):
            counts["stopped"] += 1
            self.stopped = True
            return []
        self._recover(counts)
        t = now()
        ids = session.scalars(DUE, {"t": t, "n": limit}).all()
        if not ids:
            return []
        session.execute(CLAIM, {"ids": ids, "me": self.name, "t": t})
        jobs = [Job(*r) for r in session.execute(CLAIMED, {"ids": ids})]
        new = [j.worker for j in jobs if j.kind == "text" and j.worker_id not in self.windows]
        self.windows.update(outbox.windows(session, new, self.config))  # ours for workers we already send to
        counts["claimed"] += len(jobs)
        return jobs

    def _recover(self, counts: Counter) -> None:
        """Rows of other senders whose lease ran out: claimed → pending; sending → per purpose."""
        expired = and_(T.c.claimed_at < now() - self.settings.lease, T.c.claimed_by != self.name)
        counts["released"] += db.session.execute(T.update().where(T.c.status == "claimed", expired)
                                                 .values(status="pending", claimed_by=None)).rowcount
        for row_id, purpose, sent_as in db.session.execute(
                select(T.c.id, T.c.purpose, T.c.sent_as).where(T.c.status == "sending", expired)).all():
            becomes = outbox.after_crash(purpose, sent_as)
            db.session.execute(T.update().where(T.c.id == row_id, T.c.status == "sending", expired).values(
                status=becomes, claimed_by=None, not_before=None, last_error=CRASH_NOTE[becomes]))
            counts["resent" if becomes == "pending" else "unknown"] += 1
            log.warning("outbox row %s was in flight when its sender stopped: now %s", row_id, becomes)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    # -- before the call -------------------------------------------------------------------------
    def _prepare(self, job: Job, counts: Counter) -> tuple[str, dict] | None:
        """Decide what the row is sent as (route, body) and mark it in flight; None: nothing to send."""
        if not job.subscribed or job.worker_id in self.unfollowed:
            self._finish(job, counts, "skipped", status_from="claimed", last_error="worker unfollowed the account")
            return None
        window = self.windows.get(job.worker_id)
        plan = outbox.plan(job.openid, job.kind, job.purpose, job.payload, job.dedupe_key, window, self.templates,
                           keep_template=job.prior_route == "template")
        if plan.route == "invalid":
            self._finish(job, counts, "failed", status_from="claimed", last_error="template values cannot be valid")
            return None
        if plan.route == "expired":
            self._finish(job, counts, "expired", status_from="claimed", last_error="not sent: its moment had passed")
            return None
        if plan.route == "park":
            self._finish(job, counts, "parked", status_from="claimed", claimed_by=None, sent_as=None,
                         last_error=PARKED_NOTE)
            outbox.queue_parked_notice(db.session, job.worker_id, job.last_seen_at, self.templates)
            return None
        marked = db.session.execute(IN_FLIGHT, {"oid": job.id, "me": self.name, "t": now(), "route": plan.route})
        if marked.rowcount != 1:
            counts["lost"] += 1  # our lease ran out and another sender took the row
            return None
        if plan.route == "custom":
            self.windows[job.worker_id] = replace(window, sent=window.sent + 1)
        return plan.route, plan.body

    # -- after the call --------------------------------------------------------------------------
    def _record(self, job: Job, route: str, result: Delivery, counts: Counter) -> None:
        attempts = job.attempts + 1
        becomes = outbox.after_call(job.purpose, route, result.outcome, result.errcode, attempts,
                                    self.settings.max_attempts)
        error = {"last_errcode": result.errcode, "last_error": result.error[:2000]}
        if becomes == "sent":
            done = db.session.execute(SENT, {"oid": job.id, "me": self.name, "t": now(), "msgid": result.msgid})
            counts["sent" if done.rowcount == 1 else "lost"] += 1
            kind = "outbox:text" if route == "custom" else "outbox:template"
            message_log.record(db.session, job.worker_id, "out", kind,
                               job.payload.get("content") or job.payload.get("template_id", ""))
        elif becomes == "reroute":  # back to pending; routed again (template / park) with the window closed
            if job.worker_id in self.windows:
                self.windows[job.worker_id] = replace(self.windows[job.worker_id], refused=True)
            self._finish(job, counts, "pending", count_as="rerouted", claimed_by=None, **error)
        elif becomes == "unfollowed":
            db.session.get(Worker, job.worker_id).mark_unsubscribed()
            self.unfollowed.add(job.worker_id)
            self._finish(job, counts, "skipped", **error)
        elif becomes == "stop":  # the row waits; the attempt does not count
            self.stopped = True
            self._finish(job, counts, "pending", count_as="stopped", claimed_by=None,
                         attempts=T.c.attempts - 1, **error)
        elif becomes == "unknown":
            self._finish(job, counts, "unknown", **{**error, "last_error": f"maybe sent, not sent again "
                                                                          f"(reminders: at most once): {result.error}"})
        elif becomes == "failed":
            self._finish(job, counts, "failed", **error)
            log.warning("outbox row %s failed after %d attempt(s): %s", job.id, attempts, result.error)
        else:
            self._finish(job, counts, "pending", count_as="retry", claimed_by=None,
                         not_before=now() + self.backoff(attempts), **error)

    def backoff(self, attempts: int) -> timedelta:
        """Exponential, capped, with "equal jitter": half fixed, half random, so senders that failed
        together do not all come back together."""
        delay = min(self.settings.backoff_max, self.settings.backoff * 2 ** (attempts - 1))
        return timedelta(seconds=delay / 2 + self.random.uniform(0, delay / 2))

    def _finish(self, job: Job, counts: Counter, status: str, status_from: str = "sending",
                count_as: str | None = None, **values) -> None:
        """Set the row's outcome, if it is still ours."""
        result = db.session.execute(T.update().where(T.c.id == job.id, T.c.status == status_from,
                                                     T.c.claimed_by == self.name).values(status=status, **values))
        counts[(count_as or status) if result.rowcount == 1 else "lost"] += 1

    def _release(self, jobs: list[Job], counts: Counter) -> None:
        if jobs:
            counts["released"] += db.session.execute(T.update().where(
                T.c.id.in_([j.id for j in jobs]), T.c.status == "claimed", T.c.claimed_by == self.name)
                .values(status="pending", claimed_by=None)).rowcount


def _next_for_idle_worker(waiting: deque, busy: set[int]) -> Job | None:
    """The oldest job whose worker has no call in flight: one worker's messages go out one at a
    time, in order."""
    for i, job in enumerate(waiting):
        if job.worker_id not in busy:
            del waiting[i]
            return job
    return None


def send_pending(api, limit: int = 100, config=None) -> Counter:
    """One run of a sender (claim up to `limit`, send); counts by outcome (0 for any other key)."""
    from flask import current_app

    sender = Sender(api, config or current_app.config)
    try:
        return sender.run_once(limit)
    finally:
        sender.close()
