"""SQLite writers: one at a time, queued; the turn ends with the transaction, however it ends."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.extensions import db
from bot.storage import write_transaction
from tests.support import sqlite_only


@pytest.fixture
def engine(app):
    with app.app_context():
        yield db.engine


def try_write_in_thread(engine, timeout=5.0) -> bool:
    """Does another thread get its writer's turn (and SQLite's write lock) within `timeout`?"""
    done = threading.Event()

    def writer():
        with Session(engine) as other:
            write_transaction(other)
            other.execute(text("UPDATE worker SET scene = 'x' WHERE 1 = 0"))
            other.commit()
        done.set()

    threading.Thread(target=writer, daemon=True).start()
    return done.wait(timeout)


@sqlite_only
@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_the_writer_turn_ends_with_the_transaction(engine, end):
    session = Session(engine)
    write_transaction(session)
    assert not try_write_in_thread(engine, timeout=0.3)  # the first writer still holds its turn
    getattr(session, end)()
    assert try_write_in_thread(engine)
    session.close()


@sqlite_only
def test_a_stuck_writer_does_not_hang_the_queue_for_ever(engine, monkeypatch):
    import bot.storage as storage

    monkeypatch.setattr(storage, "SQLITE_BUSY_TIMEOUT_MS", 200)
    session = Session(engine)
    write_transaction(session)
    errors = []

    def writer():
        try:
            with Session(engine) as other:
                write_transaction(other)
        except Exception as exc:  # noqa: BLE001 – SQLite's own busy error, after the queue gave up
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    t.join(30)
    assert not t.is_alive() and errors and "locked" in str(errors[0])
    session.close()


def test_logged_messages_are_written_with_the_commit_and_dropped_with_a_rollback(app):
    from sqlalchemy import func, select

    from bot import message_log
    from bot.models import Message, Worker

    with app.app_context():
        worker = Worker(openid="o_log", subscribed=True)
        db.session.add(worker)
        db.session.commit()
        message_log.record(db.session, worker.id, "in", "text", "第一条", dedupe_key="log:1")
        db.session.rollback()
        row = message_log.record(db.session, worker.id, "in", "text", "第二条", dedupe_key="log:2")
        assert message_log.pending(db.session, row)
        # a query of the message table sees it, as autoflush shows ORM objects
        assert db.session.scalars(select(Message.content)).all() == ["第二条"]
        assert not message_log.pending(db.session, row)
        message_log.record(db.session, worker.id, "out", "reply", "答复")
        db.session.commit()
        contents = db.session.scalars(select(Message.content).order_by(Message.id)).all()
        assert contents == ["第二条", "答复"]
        assert db.session.scalar(select(func.count()).select_from(Message).where(Message.dedupe_key == "log:1")) == 0
