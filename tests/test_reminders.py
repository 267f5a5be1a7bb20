"""退订提醒 / 恢复提醒 (bot/services/reminders.py): opted-out and unfollowed workers get no reminders."""
from __future__ import annotations

from sqlalchemy import select

from bot import outbox
from bot.extensions import db
from bot.models import AuditLog, Outbox, Worker
from bot.services import reminders
from tests.support import Chat
from tests.seed import booking, outbox_rows, registration, tick, worker


def change(app, openid: str, what) -> reminders.Change:
    with app.app_context():
        w = db.session.scalars(select(Worker).where(Worker.openid == openid)).one()
        result = what(db.session, w)
        db.session.commit()
        db.session.remove()
    return result


def reminded(app) -> list[str]:
    return [key.split(":")[0] + "→" + openid for key, openid, *_ in outbox_rows(app)]


def test_a_worker_who_stops_reminders_gets_none_until_they_resume(make_app, clock):
    app = make_app(CHECKIN_REMINDER_TIME="20:00")
    clock.set("2024-05-20 19:00")
    with app.app_context():
        registration(worker("o_stops"), "2024-05-18", "2024-05-31")
        db.session.commit()

    assert change(app, "o_stops", reminders.stop) == reminders.Change(already=False, cancelled=0)
    assert change(app, "o_stops", reminders.stop) == reminders.Change(already=True, cancelled=0)
    clock.set("2024-05-20 20:00")
    tick(app)
    assert reminded(app) == []

    assert change(app, "o_stops", reminders.resume) == reminders.Change(already=False)
    assert change(app, "o_stops", reminders.resume) == reminders.Change(already=True)
    clock.set("2024-05-20 20:10")
    tick(app)
    assert reminded(app) == ["checkin_reminder→o_stops"]  # today's, since it was not sent before

    with app.app_context():
        actions = db.session.scalars(select(AuditLog.action).where(AuditLog.actor.startswith("worker:"))
                                     .order_by(AuditLog.id)).all()
        db.session.remove()
    assert actions == ["reminders.stop", "reminders.resume"]  # the repeated ones changed nothing


def test_stopping_withdraws_a_reminder_held_for_the_morning(make_app, wechat_api, clock):
    wechat_api.expect_request("/cgi-bin/message/custom/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    app = make_app(LEGAL_AID_REMINDER_TIME="23:00", WECHAT_API_BASE_URL=wechat_api.url_for("/cgi-bin/"),
                   WECHAT_APP_SECRET="secret")
    clock.set("2024-05-20 23:00")
    with app.app_context():
        booking(worker("o_night"), "2024-05-21 14:00")
        db.session.commit()
    tick(app)
    assert [row[3] for row in outbox_rows(app, purpose="reminder")] == ["2024-05-21 08:00"]

    assert change(app, "o_night", reminders.stop) == reminders.Change(already=False, cancelled=1)
    clock.set("2024-05-21 08:00")
    app.test_cli_runner().invoke(args=["outbox", "send"])
    assert [r for r, _ in wechat_api.log if r.path.endswith("/message/custom/send")] == []
    with app.app_context():
        assert db.session.scalars(select(Outbox.status)).all() == ["skipped"]
        db.session.remove()


def test_stopping_reminders_leaves_other_messages_alone(app):
    with app.app_context():
        w = worker("o_mixed")
        outbox.queue(db.session, w.id, "您的入会申请已通过", dedupe_key="membership:1:approved:1", purpose="decision")
        db.session.commit()
    assert change(app, "o_mixed", reminders.stop).cancelled == 0
    with app.app_context():
        assert db.session.scalars(select(Outbox.status)).all() == ["pending"]
        db.session.remove()


def test_a_worker_who_unfollowed_gets_no_reminders(make_app, clock):
    app = make_app(CHECKIN_REMINDER_TIME="20:00")
    clock.set("2024-05-20 19:00")
    chat = Chat(app, openid="o_leaves")
    chat.event("subscribe")
    with app.app_context():
        registration(db.session.scalars(select(Worker).where(Worker.openid == "o_leaves")).one(),
                     "2024-05-18", "2024-05-31")
        registration(worker("o_stays"), "2024-05-18", "2024-05-31")
        db.session.commit()
    chat.event("unsubscribe")
    clock.set("2024-05-20 20:00")
    tick(app)
    assert reminded(app) == ["checkin_reminder→o_stays"]


def test_the_worker_says_stop_and_resume_in_the_chat(chat, db_session):
    """退订提醒 / 恢复提醒 typed by the worker, through the webhook (the phrases are in faq/vocabulary.yaml)."""
    assert "已为您停止提醒" in chat.say("退订提醒")
    assert "已经是停止状态" in chat.say("退订提醒")
    db_session.expire_all()
    assert db_session.scalars(select(Worker)).one().reminders_off is True
    assert "已为您恢复提醒" in chat.say("恢复提醒")
    assert "一直是开启的" in chat.say("恢复提醒")
    db_session.expire_all()
    assert db_session.scalars(select(Worker)).one().reminders_off is False
