"""Privacy requests: the worker asks (查询我的信息 / 删除我的信息 / 撤回同意), staff see, export and delete."""
from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.extensions import db
from bot.models import AuditLog, Consent, HomeOfficeRegistration, Outbox, PrivacyRequest, Worker
from bot.services import privacy
from tests.support import Chat, database
from tests.test_flow_home_office import CONSENT, REGISTRATION
from tests.test_flow_membership import apply
from tests.test_staff_desks import FEVER



def a_worker_with_everything(app, clock) -> Chat:
    """A member with a home-office period, a flagged check-in, a hand-off, votes and questions."""
    clock.set("2022-05-23 09:00")
    chat = Chat(app, openid="o_private")
    apply(chat)
    chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION, *FEVER)
    chat.say("加班费怎么算")
    chat.say("明天会下雨吗")
    chat.expect(("转人工", "转接人工"), ("我的身份证是110105198805142090", "已转给工作人员"), ("结束人工", "回到自动服务"))
    return chat


# -- the worker's side ----------------------------------------------------------------------------------
def test_each_request_is_acknowledged_and_recorded_once(chat, app):
    assert "已收到您删除个人信息的申请" in chat.say("删除我的信息") and "无法恢复" in chat.transcript[-1][1]
    assert "（編號 1）已經在處理中" in chat.say("刪除我的信息")  # Traditional, the same request: not a second one
    assert "已收到您查询个人信息的申请" in chat.say("查询我的信息")
    assert "没有需要撤回的同意" in chat.say("撤回同意")
    with database(app) as session:
        assert sorted(session.scalars(select(PrivacyRequest.kind))) == ["delete", "show"]


def test_withdrawing_consent_takes_effect_at_once_and_ends_the_home_office_period(app, clock):
    clock.set("2022-05-23 09:00")
    chat = Chat(app, openid="o_withdraw")
    chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION)
    reply = chat.say("撤回同意")
    assert "已撤回您的同意：健康信息" in reply and "不会再收到打卡提醒" in reply
    with database(app) as session:
        assert session.scalars(select(Consent.withdrawn_at)).one() is not None
        assert session.scalars(select(HomeOfficeRegistration.status)).one() == "ended"
        assert session.scalars(select(PrivacyRequest.kind)).one() == "withdraw"
    assert "单独同意" in chat.say("打卡")  # health data needs the consent again


def test_the_phrases_are_asked_about_before_leaving_a_free_text_step(chat):
    chat.say("法律援助")
    chat.say("1")
    assert "删除我的信息" in chat.say("删除我的信息")  # the switch question names it
    assert chat.state == ("legal_aid", "facts")


# -- the staff side --------------------------------------------------------------------------------------
def worker_tables() -> dict[str, str]:
    """Every table with a column that points at a worker: table → that column."""
    found = {}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if column.name == "worker_id" or any(fk.column.table.name == "worker" for fk in column.foreign_keys):
                found[table.name] = column.name
    return found


def test_every_table_holding_a_worker_is_erased_or_kept_on_purpose():
    covered = {model.__tablename__ for model, *_ in privacy.TABLES} | set(privacy.KEPT)
    assert set(worker_tables()) <= covered, "a new table holds workers' data: add it to bot.services.privacy"


def test_staff_see_everything_export_it_and_deletion_removes_it_from_every_table(app, desk, clock):
    a_worker_with_everything(app, clock)
    with database(app) as session:
        worker = session.scalars(select(Worker).where(Worker.openid == "o_private")).one()
        worker_id, before = worker.id, {}
        for table, column in worker_tables().items():
            before[table] = session.execute(select(func.count()).select_from(db.metadata.tables[table]).where(
                db.metadata.tables[table].c[column] == worker_id)).scalar()
        audit_before = session.scalar(select(func.count(AuditLog.id)))
    held = {t for t, n in before.items() if n}
    assert {"membership_application", "health_checkin", "home_office_registration", "escalation", "message",
            "route_log", "consent", "dialog"} <= held

    chat = Chat(app, openid="o_private")
    assert "已收到您删除个人信息的申请" in chat.say("删除我的信息")
    boss = desk("boss", role="admin")
    with database(app) as session:
        request_id = session.scalars(select(PrivacyRequest.id)).one()
    page = boss.page(f"/staff/privacy/{request_id}")
    for shown in ("张三", "138****5678", "110105********209X", "38.5", "加班费怎么算", "110105********2090", "入会申请",
                  "健康打卡"):
        assert shown in page, shown
    assert "110105198805142090" not in page

    exported = boss.post(f"/staff/privacy/{request_id}/export")
    assert exported.status_code == 200
    book = load_workbook(io.BytesIO(exported.data))
    assert {"入会申请", "健康打卡", "聊天记录", "人工服务"} <= set(book.sheetnames)
    assert list(book["入会申请"].iter_rows(values_only=True))[1][0] == "张三"

    assert boss.post(f"/staff/privacy/{request_id}/delete").status_code == 302
    with database(app) as session:
        for table, column in worker_tables().items():
            left = session.execute(select(func.count()).select_from(db.metadata.tables[table]).where(
                db.metadata.tables[table].c[column] == worker_id)).scalar()
            expected = {"worker": 1, "privacy_request": 1, "outbox": 1}.get(table, 0)  # outbox: the notice
            assert left == expected, (table, left)
        notice = session.scalars(select(Outbox)).one()
        assert notice.purpose == "notice" and "已经全部删除" in notice.payload["content"]
        request = session.get(PrivacyRequest, request_id)
        assert (request.status, request.outcome) == ("done", "deleted")
        assert session.scalar(select(func.count(AuditLog.id))) >= audit_before + 2  # kept, and more added
        deleted = session.scalars(select(AuditLog).where(AuditLog.action == "privacy.delete")).one()
        assert deleted.actor == "staff:boss" and deleted.detail["rows"]["message"] > 0
        assert "张三" not in str(deleted.detail)
        assert session.scalars(select(AuditLog.action).where(AuditLog.action == "privacy.export")).one()
    assert "张三" not in boss.page(f"/staff/privacy/{request_id}")
    assert "加班" in chat.say("加班费怎么算")  # the bot still serves the worker, from scratch


def test_a_show_request_is_answered_with_a_summary(app, desk, clock):
    a_worker_with_everything(app, clock)
    Chat(app, openid="o_private").say("查询我的信息")
    wang = desk("wang")
    with database(app) as session:
        request_id = session.scalars(select(PrivacyRequest.id)).one()
    assert "已答复" in wang.post(f"/staff/privacy/{request_id}/answer", follow_redirects=True).get_data(as_text=True)
    with database(app) as session:
        content = session.scalars(select(Outbox)).one().payload["content"]
        assert "入会申请：1 条" in content and "健康打卡：1 条" in content and "删除我的信息" in content
    again = wang.post(f"/staff/privacy/{request_id}/answer", follow_redirects=True).get_data(as_text=True)
    assert "已经处理过了" in again


def test_the_request_pages_need_a_login(client):
    assert client.get("/staff/privacy").status_code == 302
    assert client.get("/staff/privacy/1").status_code == 302
