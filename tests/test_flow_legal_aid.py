"""预约法律援助: categories, open slots with capacity, booking at confirm, 我的预约 and 取消预约."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import LOCAL_TZ
from bot.flows.legal_aid import category
from bot.flows.steps import Invalid
from bot.models import Escalation, LegalAidBooking, LegalAidSlot
from bot.simulator import WeChatSim
from tests.support import Chat, run_together

NOW = "2022-05-20 10:00"  # a Friday


@pytest.fixture
def add_slot(db_session):
    """Create a consultation slot at a Beijing time, e.g. add_slot("2022-05-24 14:00", capacity=1)."""

    def add(local: str, capacity: int = 3, place: str = "职工法律服务中心", hours: int = 3) -> int:
        starts = datetime.fromisoformat(local).replace(tzinfo=LOCAL_TZ).astimezone(UTC)  # stored as UTC
        slot = LegalAidSlot(starts_at=starts, ends_at=starts + timedelta(hours=hours), capacity=capacity, place=place)
        db_session.add(slot)
        db_session.commit()
        return slot.id

    return add


def bookings(db_session, **where):
    db_session.expire_all()
    return db_session.scalars(select(LegalAidBooking).filter_by(**where).order_by(LegalAidBooking.id)).all()


def to_confirm(chat, slot_choice="1", phone="13812345678"):
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"), ("三个月没发工资了", "请选择咨询时段"),
                (slot_choice, "手机号"), (phone, "请确认"))


def test_worker_books_a_slot_from_the_menu(chat, db_session, clock, add_slot):
    clock.set(NOW)
    slot_id = add_slot("2022-05-24 14:00", place="市总工会一楼接待室")
    assert "哪类问题" in chat.event("CLICK", "LEGAL_AID")
    chat.expect(("老板拖欠工资", "描述情况"))  # plain words pick the category
    offer = chat.say("公司三个月没发工资，老板一直拖着")
    assert "1. 5月24日（周二）14:00–17:00 · 市总工会一楼接待室" in offer
    chat.expect(("１", "手机号"), ("138-1234-5678", "请确认"))
    confirm = chat.transcript[-1][1]
    assert "欠薪/克扣工资" in confirm and "5月24日（周二）14:00" in confirm and "138****5678" in confirm
    assert "（现场）" in confirm and "回复 1 提交，回复 2 修改" in confirm
    done = chat.say("确认")
    assert "预约成功" in done and "5月24日" in done and "取消预约" in done and "按时到场" in done
    booking = bookings(db_session)[0]
    assert (booking.slot_id, booking.topic, booking.phone, booking.status) == (slot_id, "欠薪/克扣工资",
                                                                               "13812345678", "booked")
    assert booking.facts == "公司三个月没发工资，老板一直拖着" and booking.day.isoformat() == "2022-05-24"
    assert chat.state is None


def test_only_the_next_six_open_slots_are_offered(chat, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-19 14:00")  # already past
    full = add_slot("2022-05-23 09:00", capacity=0)
    for day in range(23, 31):  # eight open afternoons
        add_slot(f"2022-05-{day} 14:00")
    chat.start("flow.legal_aid", topic="欠薪/克扣工资")
    offer = chat.say("三个月没发工资了")
    lines = [line for line in offer.splitlines() if line[:2] in {f"{i}." for i in range(1, 10)}]
    assert len(lines) == 6
    assert lines[0].startswith("1. 5月23日（周一）14:00") and lines[5].startswith("6. 5月28日（周六）14:00")
    assert "5月19日" not in offer and "09:00" not in offer
    assert chat.slots["offered"][0]["id"] == full + 1


def test_no_open_slot_says_so_and_offers_a_human(chat, db_session, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00", capacity=0)
    chat.expect(("法律援助", "哪类问题"), ("3", "描述情况"))
    reply = chat.say("在工地摔伤了腿，老板不管")
    assert "约满" in reply and "转人工" in reply
    assert "人工服务" in chat.say("转人工")
    escalation = db_session.scalars(select(Escalation)).one()
    assert any("摔伤了腿" in line["content"] for line in escalation.transcript)


def test_a_number_not_on_the_list_shows_the_list_again(chat, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    chat.start("flow.legal_aid", topic="工伤", facts="摔伤了腿")
    reply = chat.say("5")
    assert "没有第 5 个时段" in reply and "1. 5月24日" in reply
    assert "例如：1" in chat.say("下午吧")
    assert chat.state == ("legal_aid", "slot")


def test_seat_taken_meanwhile_is_refused_and_the_other_slots_offered(make_chat, db_session, clock, add_slot):
    clock.set(NOW)
    last_seat = add_slot("2022-05-24 14:00", capacity=1)
    add_slot("2022-05-26 09:00")
    first, second = make_chat("o_first"), make_chat("o_second")
    to_confirm(first)
    to_confirm(second)  # both saw the same last seat
    assert "预约成功" in first.say("1")
    reply = second.say("1")
    assert "刚刚约满" in reply and "5月26日" in reply and "5月24日" not in reply
    assert second.state == ("legal_aid", "slot")
    assert "请确认" in second.say("1")  # the phone number is kept
    assert "预约成功" in second.say("1")
    assert [b.slot_id for b in bookings(db_session)] == [last_seat, last_seat + 1]


def test_a_slot_that_filled_before_it_was_picked_is_not_taken(make_chat, db_session, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00", capacity=1)
    first, second = make_chat("o_first"), make_chat("o_second")
    to_confirm(first)
    second.expect(("法律援助", "哪类问题"), ("1", "描述情况"), ("三个月没发工资了", "5月24日"))
    assert "预约成功" in first.say("1")
    assert "刚刚约满" in second.say("1")
    assert second.state == ("legal_aid", "slot")


def test_concurrent_confirmations_never_overbook(app, db_session, clock, add_slot):
    clock.set(NOW)
    slot_id = add_slot("2022-05-24 14:00", capacity=2)
    openids = [f"o_rush_{i}" for i in range(6)]
    for openid in openids:
        to_confirm(Chat(app, openid=openid))
    replies = run_together(len(openids), lambda i: WeChatSim(app.test_client(), app.config,
                                                               openid=openids[i]).say("1"))
    assert sum("预约成功" in r for r in replies) == 2
    assert sum("约满" in r for r in replies) == 4
    assert len(bookings(db_session, slot_id=slot_id, status="booked")) == 2


def test_choosing_rewrite_at_confirm_starts_over(chat, db_session, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    to_confirm(chat)
    assert "哪类问题" in chat.say("2")
    assert chat.state == ("legal_aid", "topic") and chat.slots == {}
    assert bookings(db_session) == []


def test_back_from_phone_offers_the_slots_again(chat, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"), ("三个月没发工资了", "请选择"), ("1", "手机号"))
    assert "1. 5月24日" in chat.say("返回")
    assert chat.state == ("legal_aid", "slot")


def test_my_bookings_lists_upcoming_ones(chat, db_session, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    assert "没有待参加" in chat.say("我的预约")
    to_confirm(chat)
    chat.say("1")
    reply = chat.event("CLICK", "MY_BOOKINGS")
    assert "5月24日（周二）14:00" in reply and "欠薪/克扣工资" in reply and "取消预约" in reply
    assert "5月24日" in chat.say("我的預約")  # Traditional
    clock.set("2022-05-25 10:00")
    assert "没有待参加" in chat.say("查看我的预约")


def test_cancelling_a_booking_frees_the_seat(make_chat, db_session, clock, add_slot):
    clock.set(NOW)
    slot_id = add_slot("2022-05-24 14:00", capacity=1)
    add_slot("2022-05-26 09:00")
    worker, other = make_chat("o_worker"), make_chat("o_other")
    to_confirm(worker)
    worker.say("1")
    other.expect(("法律援助", "哪类问题"), ("1", "描述情况"))
    assert "5月24日" not in other.say("三个月没发工资了")  # full
    reply = worker.say("取消预约")
    assert "回复序号" in reply and "1. 5月24日" in reply
    assert "已取消" in worker.say("1")
    booking = bookings(db_session)[0]
    assert booking.status == "cancelled" and booking.cancelled_at is not None
    assert "描述情况" in other.say("返回")
    assert "1. 5月24日" in other.say("三个月没发工资了")  # offered again
    assert "预约成功" not in worker.say("1")  # the numbered choice was used up
    assert "没有待参加" in worker.say("取消预约")
    assert [b.slot_id for b in bookings(db_session, status="booked")] == []
    other.expect(("1", "手机号"), ("13900001111", "请确认"), ("1", "预约成功"))
    assert [b.slot_id for b in bookings(db_session, status="booked")] == [slot_id]


def test_a_worker_holds_one_open_booking_by_default(chat, db_session, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    add_slot("2022-05-26 09:00")
    to_confirm(chat)
    chat.say("1")
    reply = chat.say("法律援助")
    assert "已经有1个待参加的法律援助预约" in reply and "5月24日" in reply and "取消预约" in reply
    assert chat.state is None and len(bookings(db_session)) == 1


def test_an_online_slot_is_confirmed_as_online(chat, db_session, clock, add_slot):
    clock.set(NOW)
    slot_id = add_slot("2022-05-28 09:30", place="职工之家线上视频咨询")
    db_session.get(LegalAidSlot, slot_id).mode = "online"
    db_session.commit()
    to_confirm(chat)
    assert "（线上视频）" in chat.transcript[-1][1]
    done = chat.say("1")
    assert "线上视频咨询" in done and "打电话给您（138****5678）" in done and "按时到场" not in done


def test_the_phone_given_before_is_offered_again_with_consent(chat, db_session, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    to_confirm(chat)
    chat.say("1")
    assert "已取消" in chat.expect(("取消预约", "回复序号"), ("1", "已取消"))
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"), ("还是没发工资", "请选择"))
    reply = chat.say("1")
    assert "上次您留的手机号是 138****5678" in reply and "回复 1 使用这个号码" in reply
    chat.expect(("使用这个号码", "请确认"), ("1", "预约成功"))
    assert [b.phone for b in bookings(db_session)] == ["13812345678", "13812345678"]
    chat.expect(("取消预约", "回复序号"), ("1", "已取消"))
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"), ("还是没发工资", "请选择"), ("1", "上次您留的手机号"),
                ("2", "请留下手机号"), ("13900001111", "请确认"), ("1", "预约成功"))
    assert bookings(db_session)[-1].phone == "13900001111"


def test_a_vague_wish_to_talk_asks_what_the_worker_wants(chat, db_session):
    reply = chat.say("我想说一下我的情况")
    assert "1 是，开始预约法律援助" in reply and "2 不是，我直接说问题" in reply and "3 转人工" in reply
    assert chat.state is None  # no booking was started silently
    assert "请直接输入您遇到的问题" in chat.say("2")


def test_a_booked_slot_is_not_offered_to_the_same_worker_again(make_app, clock, add_slot):
    chat = Chat(make_app(LEGAL_AID_MAX_OPEN=2))
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    add_slot("2022-05-26 09:00")
    to_confirm(chat)
    chat.say("1")
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"))
    offer = chat.say("还有加班费的问题")
    assert "5月24日" not in offer and "1. 5月26日" in offer


@pytest.mark.parametrize("text,expected", [
    ("1", "欠薪/克扣工资"), ("２", "被辞退/解除合同"), ("七", "其他"), ("工伤", "工伤"),
    ("拖欠工资", "欠薪/克扣工资"), ("被公司开除了", "被辞退/解除合同"), ("没交社保", "社保"),
    ("加班", "加班/工时"), ("试用期", "劳动合同/试用期"), ("合同", "劳动合同/试用期"), ("解除合同", "被辞退/解除合同"),
    ("欠薪/克扣工资", "欠薪/克扣工资"), ("勞動合同", "劳动合同/试用期"),
])
def test_category_from_numbers_and_plain_words(text, expected):
    assert category(text) == expected


@pytest.mark.parametrize("text", ["你好", "8", "0", "", "拖欠工资还被开除"])
def test_unclear_category_is_reasked_with_the_list(text):
    with pytest.raises(Invalid) as exc:
        category(text)
    assert "例如回复 1" in exc.value.hint and "7 其他" in exc.value.hint


# -- flask legal-aid slots --------------------------------------------------------------------

SCHEDULE = """
- weekday: 周二
  start: "14:00"
  end: "17:00"
  capacity: 4
  place: 一楼接待室
- weekday: 4
  start: 09:00
  end: "12:00"
  capacity: 2
  place: 线上视频
"""


def test_slots_command_creates_the_coming_weeks_once(app, runner, db_session, clock, tmp_path):
    clock.set(NOW)
    schedule = tmp_path / "slots.yaml"
    schedule.write_text(SCHEDULE, encoding="utf-8")
    result = runner.invoke(args=["legal-aid", "slots", "--weeks", "2", "--schedule", str(schedule)])
    assert result.exit_code == 0, result.output
    assert "新建 4 个" in result.output  # 5/24, 5/26, 5/31, 6/2 (the window is 5/20–6/2)
    again = runner.invoke(args=["legal-aid", "slots", "--weeks", "2", "--schedule", str(schedule)])
    assert "新建 0 个" in again.output and "已存在 4 个" in again.output
    db_session.expire_all()
    slots = db_session.scalars(select(LegalAidSlot).order_by(LegalAidSlot.starts_at)).all()
    from bot.services.legal_aid import describe

    assert [describe(s) for s in slots] == [
        "5月24日（周二）14:00–17:00 · 一楼接待室", "5月26日（周四）09:00–12:00 · 线上视频",
        "5月31日（周二）14:00–17:00 · 一楼接待室", "6月2日（周四）09:00–12:00 · 线上视频"]
    assert [s.capacity for s in slots] == [4, 2, 4, 2]


def test_slots_command_uses_the_shipped_schedule(runner, clock):
    clock.set(NOW)
    result = runner.invoke(args=["legal-aid", "slots", "--weeks", "1"])
    assert result.exit_code == 0, result.output
    assert "新建 3 个" in result.output


def test_slots_command_reports_a_bad_schedule(runner, tmp_path):
    schedule = tmp_path / "slots.yaml"
    schedule.write_text("- weekday: 9\n  start: '14:00'\n  end: '17:00'\n  place: x\n", encoding="utf-8")
    result = runner.invoke(args=["legal-aid", "slots", "--schedule", str(schedule)])
    assert result.exit_code != 0 and "entry 1" in result.output



# -- validation, global commands, resume, expiry, duplicates (transcripts) --------------------------

@pytest.mark.parametrize("facts,hint", [("欠", "太短"), ("工" * 301, "300字以内")])
def test_a_description_too_short_or_too_long_is_reasked(chat, clock, add_slot, facts, hint):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"))
    assert hint in chat.say(facts)
    assert chat.state == ("legal_aid", "facts")


@pytest.mark.parametrize("phone", ["1381234567", "12345678901", "电话是多少", "+1 415 555 0100"])
def test_a_bad_phone_is_reasked_with_an_example(chat, clock, add_slot, phone):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"), ("三个月没发工资了", "请选择"), ("1", "手机号"))
    assert "例如：13812345678" in chat.say(phone)
    assert chat.state == ("legal_aid", "phone")


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5])
def test_cancel_in_every_step_books_nothing(chat, db_session, clock, add_slot, steps):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    answers = ["法律援助", "1", "三个月没发工资了", "1", "13812345678"][:steps]
    for text in answers:
        chat.say(text)
    assert "已取消" in chat.say("取消")
    assert chat.state is None and bookings(db_session) == []


def test_menu_pauses_and_continue_resumes_at_the_same_step(chat, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"), ("三个月没发工资了", "请选择"))
    assert "继续" in chat.say("菜单")
    assert "1. 5月24日" in chat.say("继续")
    chat.expect(("1", "手机号"))


def test_an_idle_booking_expires_with_a_notice(chat, db_session, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    to_confirm(chat)
    clock.advance(hours=2)
    reply = chat.say("1")
    assert "长时间没有回复" in reply and "预约法律援助" in reply
    assert bookings(db_session) == [] and chat.state is None


def test_a_confirmation_delivered_twice_books_once(chat, db_session, clock, add_slot):
    clock.set(NOW)
    add_slot("2022-05-24 14:00")
    to_confirm(chat)
    xml = chat.sim.xml("text", {"Content": "1"}, msg_id=555000111)
    first, again = (chat.sim.reply_of(chat.sim.post(xml)) for _ in range(2))
    assert first == again and "预约成功" in first
    assert len(bookings(db_session)) == 1
