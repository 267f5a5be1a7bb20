"""The workbench's home-office roster and legal-aid desk: workers through the real webhook, staff at the desk.

Rows are read in an app context of their own per look (`database`), never the db_session fixture's: that
context would stay pushed for the whole test and the desks' requests would share its `g` (and so one
CSRF token between two staff members' sessions).
"""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from bot.clock import LOCAL_TZ
from bot.models import AuditLog, Escalation, LegalAidBooking, LegalAidSlot, Outbox, Worker
from tests.support import Chat, database
from tests.test_flow_home_office import CONSENT, REGISTRATION

FEVER = [("打卡", "体温"), ("38.5", "症状"), ("2", "核酸"), ("3", "去过哪里"), ("全天在家", "打卡成功")]
NORMAL = [("打卡", "体温"), ("36.6", "症状"), ("6", "核酸"), ("3", "去过哪里"), ("全天在家", "打卡成功")]


def register(app, openid: str) -> Chat:
    chat = Chat(app, openid=openid)
    assert "单独同意" in chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION)
    return chat


def rows(page: str, state: str) -> list[str]:
    return re.findall(rf'data-worker="(\d+)" data-state="{state}"', page)



def worker_id(app, openid: str) -> int:
    with database(app) as session:
        return session.scalars(select(Worker.id).where(Worker.openid == openid)).one()


# -- home office -------------------------------------------------------------------------------------------
def test_roster_lists_flagged_first_then_who_has_not_checked_in(app, desk, clock):
    clock.set("2022-05-23 09:00")
    fine, feverish, silent = (register(app, f"o_roster_{n}") for n in ("fine", "fever", "silent"))
    fine.expect(*NORMAL)
    feverish.expect(*FEVER)
    page = desk("wang").page("/staff/home-office")
    order = re.findall(r'data-worker="(\d+)" data-state="(\w+)"', page)
    assert [state for _, state in order] == ["flagged", "missing", "fine"]
    assert order[0][0] == str(worker_id(app, "o_roster_fever"))
    assert order[1][0] == str(worker_id(app, "o_roster_silent"))
    assert "38.5℃" in page and "体温38.5℃" in page and "去回复" in page
    assert "正在居家办公的职工 <strong>3</strong> 人" in page
    # another day: nobody has checked in yet
    assert len(rows(desk("li").page("/staff/home-office?day=2022-05-24"), "missing")) == 3


def test_contacting_a_worker_who_has_not_checked_in_opens_a_conversation_to_reply_in(app, desk, clock):
    clock.set("2022-05-23 09:00")
    register(app, "o_roster_quiet")
    wang = desk("wang")
    quiet = worker_id(app, "o_roster_quiet")
    response = wang.post(f"/staff/home-office/contact/{quiet}?day=2022-05-23")
    assert response.status_code == 302
    with database(app) as session:
        escalation = session.scalars(select(Escalation)).one()
        assert response.headers["Location"].endswith(f"/staff/inbox/{escalation.id}")
        assert (escalation.reason, escalation.worker_id, escalation.assigned_to_id) == ("staff_contact", quiet, wang.id)
        assert session.get(Worker, quiet).owner == "bot"  # the worker stays with the bot
        escalation_id = escalation.id
    page = wang.page(f"/staff/inbox/{escalation_id}")
    token = re.search(r'name="token" type="hidden" value="(\d+)"', page).group(1)
    wang.post(f"/staff/inbox/{escalation_id}/reply", {"text": "您好，今天还没打卡，请记得打卡。", "token": token})
    with database(app) as session:
        assert session.scalars(select(Outbox.payload)).one()["content"] == "您好，今天还没打卡，请记得打卡。"
    assert f'data-contact="{quiet}"' in wang.page("/staff/home-office")  # now a link to that conversation


def test_roster_export_is_the_days_list(app, desk, clock):
    clock.set("2022-05-23 09:00")
    register(app, "o_roster_a").expect(*FEVER)
    register(app, "o_roster_b")
    response = desk("wang").post("/staff/home-office/export?day=2022-05-23")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][:2] == ("状态", "姓名") and [r[0] for r in table[1:]] == ["异常", "未打卡"]
    assert table[1][8] == 38.5
    with database(app) as session:
        assert session.scalars(select(AuditLog.action).where(AuditLog.action == "home_office.export")).one()


def test_worker_text_on_the_roster_is_escaped(app, desk, clock):
    clock.set("2022-05-23 09:00")
    chat = Chat(app, openid="o_roster_xss")
    chat.click("HOME_OFFICE")
    chat.expect(("1", "工作单位"), ("<script>alert(1)</script>公司", "街道和社区"), *REGISTRATION[1:])
    page = desk("wang").page("/staff/home-office")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;公司" in page


# -- legal aid -----------------------------------------------------------------------------------------------
def slot_at(app, local: str, capacity: int = 3) -> int:
    starts = datetime.fromisoformat(local).replace(tzinfo=LOCAL_TZ).astimezone(UTC)
    with database(app) as session:
        slot = LegalAidSlot(starts_at=starts, ends_at=starts + timedelta(hours=3), capacity=capacity,
                            place="职工法律服务中心")
        session.add(slot)
        session.commit()
        return slot.id


def book(app, openid: str, facts: str, phone: str) -> None:
    Chat(app, openid=openid).expect(("法律援助", "哪类问题"), ("1", "描述情况"), (facts, "请选择咨询时段"),
                                    ("1", "手机号"), (phone, "请确认"), ("1", "预约成功"))


def test_the_lawyers_day_view_and_marking_attended_and_no_show(app, desk, clock):
    clock.set("2022-05-20 10:00")
    slot_at(app, "2022-05-24 14:00")
    book(app, "o_law_a", "公司三个月没发工资", "13812345678")
    book(app, "o_law_b", "被辞退没有补偿", "13912345678")
    wang = desk("wang")
    page = wang.page("/staff/legal-aid?day=2022-05-24")
    assert "14:00–17:00 · 职工法律服务中心" in page and "已约 2 / 3" in page
    assert "公司三个月没发工资" in page and "13812345678" in page and "被辞退没有补偿" in page
    with database(app) as session:
        first, second = session.scalars(select(LegalAidBooking.id).order_by(LegalAidBooking.id)).all()
    # before the day: attendance cannot be marked yet
    refused = wang.post(f"/staff/legal-aid/bookings/{first}/attended", follow_redirects=True).get_data(as_text=True)
    assert "咨询日还没到" in refused
    clock.set("2022-05-24 15:00")  # the consultation day, at the desk
    lawyer = desk("lawyer")
    assert "已标记为到场" in lawyer.post(f"/staff/legal-aid/bookings/{first}/attended",
                                     follow_redirects=True).get_data(as_text=True)
    assert "已标记为未到场" in lawyer.post(f"/staff/legal-aid/bookings/{second}/no_show",
                                      follow_redirects=True).get_data(as_text=True)
    with database(app) as session:
        assert [b.status for b in session.scalars(select(LegalAidBooking).order_by(LegalAidBooking.id))] == [
            "attended", "no_show"]
        actions = session.scalars(select(AuditLog.action).where(AuditLog.action.startswith("legal_aid."))).all()
        assert sorted(actions) == ["legal_aid.attended", "legal_aid.no_show"]


def test_staff_cancel_frees_the_seat_and_tells_the_worker(app, desk, clock):
    clock.set("2022-05-20 10:00")
    slot_at(app, "2022-05-24 14:00", capacity=1)
    book(app, "o_law_c", "工伤认定", "13812345678")
    with database(app) as session:
        booking_id = session.scalars(select(LegalAidBooking.id)).one()
    desk("wang").post(f"/staff/legal-aid/bookings/{booking_id}/cancel", {"reason": "律师临时有事"})
    with database(app) as session:
        assert session.get(LegalAidBooking, booking_id).status == "cancelled"
        notice = session.scalars(select(Outbox)).one()
        assert notice.purpose == "notice" and "5月24日" in notice.payload["content"]
        assert "律师临时有事" in notice.payload["content"]
    assert "请选择咨询时段" in Chat(app, openid="o_law_d").expect(("法律援助", "哪类问题"), ("1", "描述情况"),
                                                              ("欠薪", "请选择咨询时段"))  # the seat is free again


def test_slots_are_added_their_capacity_changed_and_empty_ones_deleted(app, desk, clock):
    clock.set("2022-05-20 10:00")
    wang = desk("wang")
    wang.post("/staff/legal-aid/slots", {"day": "2022-05-25", "start": "09:00", "end": "12:00", "place": "线上会议室",
                                         "mode": "online", "capacity": "2"})
    with database(app) as session:
        slot = session.scalars(select(LegalAidSlot)).one()
        assert (slot.capacity, slot.mode, slot.place) == (2, "online", "线上会议室")
    book(app, "o_law_e", "加班费", "13812345678")
    refused = wang.post(f"/staff/legal-aid/slots/{slot.id}/capacity", {f"s{slot.id}-capacity": "0"},
                        follow_redirects=True).get_data(as_text=True)
    assert "名额要在 1 到 50 之间" in refused
    wang.post(f"/staff/legal-aid/slots/{slot.id}/capacity", {f"s{slot.id}-capacity": "5"})
    with database(app) as session:
        assert session.get(LegalAidSlot, slot.id).capacity == 5
    kept = wang.post(f"/staff/legal-aid/slots/{slot.id}/delete", follow_redirects=True).get_data(as_text=True)
    assert "这个时段还有预约" in kept
    with database(app) as session:
        assert session.get(LegalAidSlot, slot.id) is not None
    past = wang.post("/staff/legal-aid/slots", {"day": "2022-05-19", "start": "09:00", "end": "12:00", "place": "x",
                                                "mode": "in_person", "capacity": "2"}, follow_redirects=True)
    assert "只能添加还没开始的时段" in past.get_data(as_text=True)


# -- staff alerts on the inbox ---------------------------------------------------------------------------------
def test_new_alerts_show_on_the_inbox_until_someone_opens_the_conversation(app, desk):
    from tests.seed import tick

    Chat(app, openid="o_alerted").say("转人工")
    tick(app)  # the scheduler makes the StaffAlert
    wang = desk("wang")
    rows = wang.page("/staff/inbox/rows")
    assert "新提醒 1 条" in rows and "职工要求转人工" in rows
    with database(app) as session:
        escalation_id = session.scalars(select(Escalation.id)).one()
    assert wang.post(f"/staff/inbox/{escalation_id}/presence").status_code == 200  # the page, opened
    assert "新提醒" not in wang.page("/staff/inbox/rows")
