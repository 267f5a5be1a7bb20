"""每日健康打卡 (bot/flows/checkin.py): readings kept, flags, end and extend, as transcripts."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.flows import checkin as flow
from bot.flows.steps import Invalid
from bot.models import Escalation, HealthCheckin, HomeOfficeRegistration
from bot.services import home_office as service
from tests.support import Chat
from tests.test_flow_home_office import (  # noqa: F401 – registered: a fixture
    CONSENT, HEALTHY, REGISTRATION, count, registered, the_worker)

TITLE = "每日健康打卡"


# -- parsers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("36.5", 36.5), ("３６．５", 36.5), ("36度5", 36.5), ("37.3℃", 37.3), ("三十六点八", 36.8), ("36", 36.0),
    ("结束", "end"), ("結束", "end"), ("结束居家办公", "end"), ("延长", "extend"), ("我要延长居家办公", "extend"),
])
def test_temperature_or_action_accepts(text, value):
    assert flow.temperature_or_action(text) == value


@given(st.integers(min_value=350, max_value=420))
def test_every_temperature_in_range_is_read_and_flagged_from_37_3(tenths):
    value = flow.temperature_or_action(f"{tenths / 10:.1f}")
    assert value == tenths / 10
    assert bool(service.flags(value, ["无"], "阴性")) is (tenths >= 373)


@pytest.mark.parametrize("text", ["34.9", "42.1", "45", "发烧了", "abc", "", "36.5.5"])
def test_temperature_out_of_range_or_not_a_number_is_refused(text):
    with pytest.raises(Invalid, match=r"35\.0–42\.0.*例如：36\.5"):
        flow.temperature_or_action(text)


@pytest.mark.parametrize("text, value", [
    ("6", ["无"]), ("６", ["无"]), ("六", ["无"]), ("没有", ["无"]), ("沒有", ["无"]), ("无", ["无"]),
    ("1 3", ["咳嗽", "乏力"]), ("1、3", ["咳嗽", "乏力"]), ("13", ["咳嗽", "乏力"]), ("2", ["发热"]),
    ("咳嗽 咽痛", ["咳嗽", "咽痛"]), ("1 1", ["咳嗽"]),
])
def test_symptoms_accept(text, value):
    assert flow.symptoms(text) == value


@pytest.mark.parametrize("text, value", [
    ("发烧", ["发热"]), ("有点发烧，嗓子疼", ["发热", "咽痛"]), ("拉肚子", ["腹泻"]), ("咳嗽还有点乏力", ["咳嗽", "乏力"]),
    ("头疼", ["其他：头疼"]), ("发烧 头疼", ["发热", "其他：头疼"]), ("有点不舒服", ["其他：不舒服"]),
    ("喉嚨痛", ["咽痛"]), ("没劲，拉稀", ["乏力", "腹泻"]),
])
def test_symptoms_in_everyday_words_map_to_the_options_and_other_keeps_the_words(text, value):
    assert flow.symptoms(text) == value


@pytest.mark.parametrize("text", ["7", "0", "1 9", "17", "6 1", "", "!!!", "没有 发烧"])
def test_bad_symptom_answers_are_refused_with_the_list(text):
    with pytest.raises(Invalid, match="可多选.*例如：发烧 嗓子疼"):
        flow.symptoms(text)


@pytest.mark.parametrize("text, value", [("1", "阴性"), ("阴性", "阴性"), ("陰性", "阴性"), ("二", "阳性"),
                                         ("3", "未检测"), ("没做", "未检测")])
def test_latest_test_result_accepts(text, value):
    assert flow.latest_test(text) == value



# -- validation and commands in the chat -------------------------------------------------
def test_invalid_checkin_answers_are_reasked(registered, clock):
    chat = registered
    chat.say("打卡")
    assert "35.0–42.0" in chat.say("43")
    assert "35.0–42.0" in chat.say("有点烫")
    assert "转人工" in chat.say("34")  # third miss in a row: a human is offered
    chat.expect(("37.0", "症状"))
    assert "可多选" in chat.say("8")
    assert "可多选" in chat.say("6 2")
    assert "转人工" not in chat.transcript[-1][1]  # the temperature was answered in between: a new count
    chat.expect(("6", "核酸"), ("1", "哪天做的"))
    reply = chat.say("后天")
    assert "检测日期要在3月24日到5月23日之间" in reply and "没看懂" not in reply  # understood, out of range
    chat.expect(("5月22日", "去过哪里"))
    reply = chat.say("家")
    assert "内容太短" in reply and "没看懂" not in reply
    assert chat.state == ("checkin", "whereabouts")
    assert chat.slots["temperature"] == 37.0 and chat.slots["test_date"] == "2022-05-22"


def test_cancel_during_checkin_stores_no_checkin(registered, db_session):
    chat = registered
    chat.say("打卡")
    chat.expect(("36.6", "症状"), ("6", "核酸"))
    assert "已取消" in chat.say("退出")
    assert chat.state is None and count(db_session, HealthCheckin) == 0


def test_back_in_the_checkin_skips_the_test_date_when_untested(registered, db_session):
    chat = registered
    chat.say("打卡")
    assert "已经是第一步" in chat.say("返回")
    chat.expect(("36.6", "症状"), ("6", "核酸"), ("3", "去过哪里"))
    assert "核酸检测结果" in chat.say("返回")
    chat.expect(("1", "哪天做的"), ("今天", "去过哪里"))
    assert "哪天做的" in chat.say("返回")
    assert chat.state == ("checkin", "test_date")
    chat.expect(("返回", "核酸检测结果"), ("3", "去过哪里"), ("在家", "打卡成功"))
    checkin = db_session.scalars(select(HealthCheckin)).one()
    assert (checkin.test_result, checkin.test_date) == ("未检测", None)  # the earlier date is dropped


def test_menu_pauses_and_continue_resumes(registered):
    chat = registered
    chat.say("打卡")
    chat.expect(("36.6", "症状"))
    reply = chat.say("菜单")
    assert "入会申请" in reply and f"您正在办理「{TITLE}」" in reply
    assert "症状" in chat.say("继续")
    assert chat.state == ("checkin", "symptoms") and chat.slots == {"temperature": 36.6}
    chat.expect(("6", "核酸"))


def test_handoff_mid_checkin_then_back_to_the_bot(registered, db_session):
    chat = registered
    chat.say("打卡")
    chat.expect(("36.6", "症状"), ("6", "核酸"))
    assert "人工服务" in chat.say("转人工")
    assert "工作人员" in chat.say("核酸报告还没出来，怎么填？")
    escalation = db_session.scalars(select(Escalation)).one()
    assert escalation.reason == "asked" and the_worker(db_session).owner == "staff"
    assert count(db_session, HealthCheckin) == 0
    assert "回到自动服务" in chat.say("结束人工")
    assert "核酸检测结果" in chat.say("继续")
    chat.expect(("3", "去过哪里"), ("在家", "打卡成功"))
    assert db_session.scalars(select(HealthCheckin)).one().test_result == "未检测"


# -- resume and expiry ----------------------------------------------------------------------------
def test_interruption_by_another_service_then_resume(registered):
    chat = registered
    chat.say("打卡")
    chat.expect(("36.6", "症状"), ("1 5", "核酸"))
    chat.say("菜单")
    assert "入会" in chat.say("5")  # looks up the membership application meanwhile
    assert "核酸检测结果" in chat.say("继续")
    assert chat.slots == {"temperature": 36.6, "symptoms": ["咳嗽", "咽痛"]}


def test_checkin_survives_an_app_restart(make_app, clock):
    clock.set("2022-05-23 09:00")
    first = Chat(make_app(), openid="o_restart")
    first.event("CLICK", "HOME_OFFICE")
    first.expect(*CONSENT, *REGISTRATION, ("打卡", "体温"), ("36.4", "症状"))
    second = Chat(make_app(), openid="o_restart")  # another process, same database
    assert "核酸" in second.say("6")
    assert second.state == ("checkin", "test_result")


def test_an_idle_checkin_expires(registered, db_session, clock):
    chat = registered
    chat.say("打卡")
    chat.expect(("36.6", "症状"))
    clock.advance(minutes=31)
    reply = chat.say("6")
    assert "长时间没有回复" in reply and TITLE in reply
    assert chat.state is None and count(db_session, HealthCheckin) == 0


# -- every reading is kept ---------------------------------------------------------------------------
def test_a_second_checkin_the_same_day_is_kept_beside_the_first(registered, db_session, clock):
    chat = registered
    chat.say("打卡")
    chat.expect(*HEALTHY)
    clock.set("2022-05-23 20:00")
    assert "今天已经打过1次卡" in chat.say("打卡")
    chat.expect(("36.8", "症状"), ("6", "核酸"), ("3", "去过哪里"))
    reply = chat.say("下楼做了核酸")
    assert "第2次打卡" in reply and "36.8℃" in reply
    readings = db_session.scalars(select(HealthCheckin).order_by(HealthCheckin.id)).all()
    assert [(r.temperature, r.test_result) for r in readings] == [(36.5, "阴性"), (36.8, "未检测")]

    clock.set("2022-05-24 08:00")  # a new day
    assert "今天已经打过" not in chat.say("打卡")
    chat.expect(*HEALTHY)
    assert [c.day for c in db_session.scalars(select(HealthCheckin).order_by(HealthCheckin.id))] == [
        date(2022, 5, 23), date(2022, 5, 23), date(2022, 5, 24)]


def test_a_later_normal_checkin_never_erases_a_flagged_one(registered, db_session, clock):
    """The day shows its worst reading: a fever in the morning stays a fever after a normal evening."""
    chat = registered
    chat.say("打卡")
    chat.expect(("38.5", "症状"), ("发烧", "核酸"), ("3", "去过哪里"), ("在家", "12320"))
    clock.set("2022-05-23 20:00")
    chat.say("打卡")
    chat.expect(("36.6", "症状"), ("6", "核酸"), ("3", "去过哪里"))
    reply = chat.say("在家")
    assert "较早的一次打卡有异常" in reply and "体温38.5℃" in reply
    db_session.expire_all()
    worker = the_worker(db_session)
    day = service.day_of(db_session, worker, date(2022, 5, 23))
    assert day.count == 2 and day.worst.temperature == 38.5 and day.worst.flagged is True
    assert [r.flagged for r in day.readings] == [True, False]
    assert db_session.scalars(select(Escalation)).one().reason == "flagged_checkin"


def test_checkin_day_is_the_beijing_date(registered, db_session, clock):
    chat = registered
    clock.set("2022-05-24 00:30")  # 2022-05-23 16:30 UTC, already the 24th in Beijing
    assert "今天（5月24日）" in chat.say("打卡")
    chat.expect(*HEALTHY)
    assert db_session.scalars(select(HealthCheckin)).one().day == date(2022, 5, 24)


# -- whereabouts as a location message ----------------------------------------------------------------
LOCATION = {"Location_X": "39.98", "Location_Y": "116.47", "Scale": "15", "Label": "北京市朝阳区花家地西里"}


def test_a_location_message_answers_the_whereabouts_question(registered, db_session):
    chat = registered
    chat.say("打卡")
    assert "已收到您的位置" in chat.send("location", LOCATION)  # not a whereabouts step yet: just thanks
    assert chat.state == ("checkin", "temperature")
    chat.expect(("36.5", "症状"), ("6", "核酸"), ("3", "发送「位置」"))
    reply = chat.send("location", LOCATION)
    assert "打卡成功" in reply and "北京市朝阳区花家地西里" in reply
    checkin = db_session.scalars(select(HealthCheckin)).one()
    assert checkin.whereabouts == "北京市朝阳区花家地西里"
    assert checkin.location == {"label": "北京市朝阳区花家地西里", "lat": 39.98, "lng": 116.47}


# -- flagged check-ins ----------------------------------------------------------------------------------
def test_a_fever_opens_an_escalation_but_the_bot_keeps_the_worker(registered, db_session):
    chat = registered
    chat.say("打卡")
    chat.expect(("37.8", "症状"), ("2 1", "核酸"), ("3", "去过哪里"), ("全天在家", "打卡成功"))
    advice = chat.transcript[-1][1]
    assert all(fact in advice for fact in ("体温37.8℃", "发热", "向居住地社区报告", "不要外出", "12320"))
    checkin = db_session.scalars(select(HealthCheckin)).one()
    assert checkin.flagged is True and checkin.symptoms == ["发热", "咳嗽"]
    escalation = db_session.scalars(select(Escalation)).one()
    assert (escalation.reason, escalation.status) == ("flagged_checkin", "open")
    assert "37.8" in escalation.detail and "发热、咳嗽" in escalation.detail and "全天在家" in escalation.detail
    assert the_worker(db_session).owner == "bot"
    assert "体温" in chat.say("打卡")  # the bot still answers, not the staff queue


@pytest.mark.parametrize("answers, reason", [
    (["37.3", "6", "3"], "体温37.3℃"),
    (["36.5", "5", "3"], "症状：咽痛"),
    (["36.5", "6", "2", "今天"], "核酸阳性"),
])
def test_each_warning_sign_flags_the_checkin(registered, db_session, answers, reason):
    chat = registered
    chat.say("打卡")
    for text in answers:
        chat.say(text)
    assert "12320" in chat.say("在家")
    assert db_session.scalars(select(HealthCheckin)).one().flagged is True
    assert reason in db_session.scalars(select(Escalation)).one().detail


def test_a_normal_checkin_just_below_the_line_is_not_flagged(registered, db_session):
    chat = registered
    chat.say("打卡")
    chat.expect(("37.2", "症状"), ("6", "核酸"), ("3", "去过哪里"))
    assert "12320" not in chat.say("在家")
    assert db_session.scalars(select(HealthCheckin)).one().flagged is False
    assert count(db_session, Escalation) == 0


# -- end and extend ---------------------------------------------------------------------------------------
def test_end_the_home_office_period(registered, db_session, clock):
    chat = registered
    clock.set("2022-05-26 09:00")
    assert "回复「延长」或「结束」" in chat.say("打卡")
    reply = chat.say("结束居家办公")
    assert "确认结束居家办公吗" in reply and "5月23日 至 5月29日" in reply
    assert "已结束居家办公报备" in chat.say("1")
    reg = db_session.scalars(select(HomeOfficeRegistration)).one()
    assert reg.status == "ended" and reg.ended_at is not None
    assert "工作单位全称" in chat.say("打卡")  # no active period: a new registration, consent not asked again


def test_changing_ones_mind_about_ending_goes_back_to_the_checkin(registered, db_session):
    chat = registered
    chat.say("打卡")
    chat.expect(("结束", "确认结束"), ("2", "请输入您的体温"))
    assert db_session.scalars(select(HomeOfficeRegistration)).one().status == "active"


def test_extend_the_home_office_period(registered, db_session):
    chat = registered
    chat.say("打卡")
    assert "目前报备到5月29日" in chat.say("延长")
    reply = chat.say("5月28日")
    assert "要晚于目前的结束日期（5月29日）" in reply
    assert chat.state == ("checkin", "new_end")
    assert "已延长居家办公至6月5日" in chat.say("6月5日")
    reg = db_session.scalars(select(HomeOfficeRegistration)).one()
    assert (reg.status, reg.end_date) == ("active", date(2022, 6, 5))
    assert "5月23日–6月5日" in chat.say("打卡")


def test_nan_or_infinite_coordinates_are_stored_as_unknown(registered, db_session):
    """PostgreSQL cannot store NaN in JSON; a location with odd numbers still checks in."""
    chat = registered
    chat.say("打卡")
    chat.expect(("36.5", "症状"), ("6", "核酸"), ("3", "去过哪里"))
    reply = chat.send("location", {**LOCATION, "Location_X": "NaN", "Location_Y": "inf"})
    assert "打卡成功" in reply
    assert db_session.scalars(select(HealthCheckin)).one().location == {
        "label": "北京市朝阳区花家地西里", "lat": None, "lng": None}


def test_a_lapsed_period_offers_extend_or_end(registered, db_session, clock):
    chat = registered
    clock.set("2022-06-01 09:00")
    reply = chat.say("打卡")
    assert "已于5月29日到期" in reply and "1 延长" in reply
    chat.expect(("1", "要延长到哪天"))
    assert "已于5月29日到期" in chat.say("返回")
    assert chat.state == ("checkin", "lapsed")
    chat.expect(("1", "要延长到哪天"), ("6月8日", "已延长居家办公至6月8日"))
    assert db_session.scalars(select(HomeOfficeRegistration)).one().end_date == date(2022, 6, 8)
    clock.set("2022-06-09 09:00")
    chat.expect(("打卡", "已于6月8日到期"), ("2", "已结束居家办公报备"))
    assert db_session.scalars(select(HomeOfficeRegistration)).one().status == "ended"


