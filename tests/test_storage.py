"""SQLite writers: one at a time, queued; the turn ends with the transaction, however it ends."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.extensions import db
from bot.storage import write_transaction


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


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_the_writer_turn_ends_with_the_transaction(engine, end):
    session = Session(engine)
    write_transaction(session)
    assert not try_write_in_thread(engine, timeout=0.3)  # the first writer still holds its turn
    getattr(session, end)()
    assert try_write_in_thread(engine)
    session.close()


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
