"""居家办公报备 and 每日健康打卡: consent, registration, daily check-in, end and extend, as transcripts."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.flows import home_office as flow
from bot.flows.steps import Invalid
from bot.models import Consent, Escalation, HealthCheckin, HomeOfficeRegistration, Worker
from bot.services import home_office as service
from tests.conftest import Chat

TITLE = "居家办公报备 / 健康打卡"
CONSENT = [("1", "工作单位")]
REGISTRATION = [
    ("北京市某某科技有限公司", "街道和社区"),
    ("朝阳区望京街道花家地社区", "居住地址"),
    ("花家地西里3号楼2单元501", "哪天开始"),
    ("今天", "哪天结束"),
    ("5月29日", "报到"),
    ("1", "请确认"),
    ("1", "报备成功"),
]
HEALTHY = [("36.5", "症状"), ("6", "核酸检测结果"), ("1", "哪天做的"), ("昨天", "去过哪里"),
           ("全天在家，未外出", "打卡成功")]


def count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


def the_worker(db_session, openid="o_worker_1") -> Worker:
    db_session.expire_all()
    return db_session.scalars(select(Worker).where(Worker.openid == openid)).one()


@pytest.fixture
def registered(chat, clock):
    """A worker who consented and registered on Monday 2022-05-23 (home office until 5月29日)."""
    clock.set("2022-05-23 09:00")
    assert "单独同意" in chat.event("CLICK", "HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION)
    return chat


# -- the happy path ---------------------------------------------------------------------------
def test_consent_then_registration_then_first_checkin(chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    notice = chat.event("CLICK", "HOME_OFFICE")
    assert all(fact in notice for fact in ("单独同意", "体温", "行程", "保存多久", "30天", "谁能看到", "1 同意"))
    chat.expect(*CONSENT, *REGISTRATION[:-1])
    summary = chat.transcript[-1][1]
    assert "花家地西里3号楼2单元501" in summary and "5月23日 至 5月29日" in summary and "已报到" in summary
    done = chat.say("1")
    assert "报备成功" in done and "5月23日 至 5月29日" in done
    assert "不聚会" in done and "向居住地社区（村）报到" in done  # the rules, from FAQ home_office.rules
    assert "回复「居家办公报备」" not in done  # the rules' own closing hint would only repeat the reply
    assert chat.state is None

    worker = the_worker(db_session)
    consent = db_session.scalars(select(Consent)).one()
    assert (consent.worker_id, consent.purpose, consent.withdrawn_at) == (worker.id, "health", None)
    reg = db_session.scalars(select(HomeOfficeRegistration)).one()
    assert (reg.employer, reg.community, reg.address) == ("北京市某某科技有限公司", "朝阳区望京街道花家地社区",
                                                          "花家地西里3号楼2单元501")
    assert (reg.start_date, reg.end_date, reg.reported_to_community, reg.status) == (
        date(2022, 5, 23), date(2022, 5, 29), True, "active")

    clock.set("2022-05-23 10:00")
    first = chat.say("打卡")
    assert "今天（5月23日）的健康打卡" in first and "体温" in first and "例如：36.5" in first
    assert "单独同意" not in first
    chat.expect(*HEALTHY)
    assert "明天记得继续打卡" in chat.transcript[-1][1]
    checkin = db_session.scalars(select(HealthCheckin)).one()
    assert (checkin.worker_id, checkin.registration_id, checkin.day) == (worker.id, reg.id, date(2022, 5, 23))
    assert (checkin.temperature, checkin.symptoms, checkin.test_result) == (36.5, ["无"], "阴性")
    assert (checkin.test_date, checkin.whereabouts, checkin.location) == (date(2022, 5, 22), "全天在家，未外出", None)
    assert checkin.flagged is False
    assert count(db_session, Escalation) == 0
    assert chat.state is None


def test_registration_not_yet_reported_to_the_community_is_reminded(chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    chat.say("居家办公报备")
    chat.expect(*CONSENT, *REGISTRATION[:4], ("5月29日", "报到"), ("2", "还没有"))
    assert "尽快向居住地社区报到" in chat.say("1")
    assert db_session.scalars(select(HomeOfficeRegistration)).one().reported_to_community is False


@pytest.mark.parametrize("entry", [("say", "健康打卡"), ("say", "打卡"), ("event", "CHECKIN"), ("menu", "3")])
def test_every_entry_reaches_the_flow(chat, entry):
    how, what = entry
    if how == "say":
        reply = chat.say(what)
    elif how == "event":
        reply = chat.event("CLICK", what)
    else:
        chat.say("菜单")
        reply = chat.say(what)
    assert "单独同意" in reply
    assert chat.state == ("home_office", "consent")


def test_confirm_no_starts_the_registration_again(chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    chat.event("CLICK", "HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION[:-1], ("2", "工作单位全称"))
    assert chat.state == ("home_office", "employer")
    assert count(db_session, HomeOfficeRegistration) == 0


# -- consent ----------------------------------------------------------------------------------
def test_declining_consent_shows_the_rules_and_stores_nothing(chat, db_session):
    chat.event("CLICK", "HOME_OFFICE")
    reply = chat.say("不同意")
    assert "没有保存" in reply and "不聚会" in reply and "服从社区管理" in reply
    assert chat.state is None
    for model in (Consent, HomeOfficeRegistration, HealthCheckin, Escalation):
        assert count(db_session, model) == 0, model.__name__
    assert "单独同意" in chat.say("打卡")  # asked again next time: nothing was recorded


def test_rules_have_a_fallback_when_the_faq_is_missing(make_app, tmp_path):
    (tmp_path / "empty_faq").mkdir()
    chat = Chat(make_app(FAQ_DIR=str(tmp_path / "empty_faq")))
    chat.event("CLICK", "HOME_OFFICE")
    reply = chat.say("2")
    assert "没有保存" in reply and "不聚会" in reply and "核酸检测" in reply


def test_consent_is_asked_once(chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    chat.event("CLICK", "HOME_OFFICE")
    chat.expect(*CONSENT, ("北京市某某科技有限公司", "街道和社区"))
    assert "已取消" in chat.say("取消")
    assert count(db_session, Consent) == 1 and count(db_session, HomeOfficeRegistration) == 0
    clock.advance(seconds=5)  # events are deduplicated by sender + CreateTime
    again = chat.event("CLICK", "HOME_OFFICE")
    assert "单独同意" not in again and "工作单位全称" in again
    chat.expect(*REGISTRATION)
    assert count(db_session, Consent) == 1


# -- validation ---------------------------------------------------------------------------------
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


@pytest.mark.parametrize("text", ["7", "0", "1 9", "17", "6 1", "头疼", "", "有点不舒服"])
def test_bad_symptom_numbers_are_refused(text):
    with pytest.raises(Invalid, match="可多选.*例如：1 3"):
        flow.symptoms(text)


@pytest.mark.parametrize("text, value", [("1", "阴性"), ("阴性", "阴性"), ("陰性", "阴性"), ("二", "阳性"),
                                         ("3", "未检测"), ("没做", "未检测")])
def test_latest_test_result_accepts(text, value):
    assert flow.latest_test(text) == value


@pytest.mark.parametrize("parser, text, hint", [
    ("start", "过几天", "例如：明天、5月23日"),
    ("start", "2022-02-30", "例如：明天、5月23日"),
    ("start", "2022-01-01", "开始日期要在4月23日到6月22日之间"),
    ("end", "昨天", "结束日期要在5月23日到8月21日之间"),
    ("test", "明天", "检测日期要在3月24日到5月23日之间"),
])
def test_bad_dates_are_refused_with_an_example(clock, parser, text, hint):
    clock.set("2022-05-23 09:00")
    parse = {"start": flow.day_between(30, 30, "开始日期"), "end": flow.day_between(0, 90, "结束日期"),
             "test": flow.day_between(60, 0, "检测日期")}[parser]
    with pytest.raises(Invalid) as exc:
        parse(text)
    assert hint in exc.value.hint


def test_date_phrases_are_understood(clock):
    clock.set("2022-05-23 23:30")  # Beijing time: still the 23rd (15:30 UTC)
    parse = flow.day_between(30, 30, "开始日期")
    assert [parse(t) for t in ("今天", "明天", "5月25日", "2022-05-26", "下周一")] == [
        "2022-05-23", "2022-05-24", "2022-05-25", "2022-05-26", "2022-05-30"]


def test_invalid_answers_in_the_chat_are_reasked_and_nothing_is_lost(chat, clock):
    clock.set("2022-05-23 09:00")
    chat.event("CLICK", "HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION[:3])
    assert "例如：明天、5月23日" in chat.say("过几天吧")
    assert "开始日期要在" in chat.say("2021-05-23")
    chat.expect(("5月25日", "哪天结束"))
    reply = chat.say("5月24日")
    assert "结束日期不能早于开始日期（5月25日）" in reply and "哪天结束" in reply
    assert chat.state == ("home_office", "end_date") and "end_date" not in chat.slots
    assert "结束日期要在" in chat.say("5月20日")
    chat.expect(("5月25日", "报到"))  # the same day as the start is fine
    assert chat.slots["start_date"] == "2022-05-25" and chat.slots["end_date"] == "2022-05-25"


def test_invalid_checkin_answers_are_reasked(registered, clock):
    chat = registered
    chat.say("打卡")
    assert "35.0–42.0" in chat.say("43")
    assert "35.0–42.0" in chat.say("有点烫")
    assert "转人工" in chat.say("34")  # third miss in a row: a human is offered
    chat.expect(("37.0", "症状"))
    assert "可多选" in chat.say("8")
    assert "可多选" in chat.say("6 2")
    chat.expect(("6", "核酸"), ("1", "哪天做的"))
    assert "检测日期要在" in chat.say("后天")
    chat.expect(("5月22日", "去过哪里"))
    assert "内容太短" in chat.say("家")
    assert chat.state == ("home_office", "whereabouts")
    assert chat.slots["temperature"] == 37.0 and chat.slots["test_date"] == "2022-05-22"


# -- global commands mid-flow -----------------------------------------------------------------
def test_cancel_during_registration_stores_no_registration(chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    chat.event("CLICK", "HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION[:3])
    assert f"已取消「{TITLE}」" in chat.say("取消")
    assert chat.state is None
    assert count(db_session, HomeOfficeRegistration) == 0


def test_cancel_during_checkin_stores_no_checkin(registered, db_session):
    chat = registered
    chat.say("打卡")
    chat.expect(("36.6", "症状"), ("6", "核酸"))
    assert "已取消" in chat.say("退出")
    assert chat.state is None and count(db_session, HealthCheckin) == 0


def test_back_goes_to_the_previous_question(chat, clock):
    clock.set("2022-05-23 09:00")
    chat.event("CLICK", "HOME_OFFICE")
    chat.expect(*CONSENT)
    assert "已经是第一步" in chat.say("返回")
    chat.expect(*REGISTRATION[:3])
    assert "居住地址" in chat.say("返回")
    assert chat.state == ("home_office", "address")
    chat.expect(("花家地西里3号楼", "哪天开始"), ("今天", "哪天结束"), ("5月29日", "报到"), ("1", "请确认"))
    assert "报到了吗" in chat.say("上一步")
    assert chat.slots["address"] == "花家地西里3号楼"


def test_back_in_the_checkin_skips_the_test_date_when_untested(registered, db_session):
    chat = registered
    chat.say("打卡")
    assert "已经是第一步" in chat.say("返回")
    chat.expect(("36.6", "症状"), ("6", "核酸"), ("3", "去过哪里"))
    assert "核酸检测结果" in chat.say("返回")
    chat.expect(("1", "哪天做的"), ("今天", "去过哪里"))
    assert "哪天做的" in chat.say("返回")
    assert chat.state == ("home_office", "test_date")
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
    assert chat.state == ("home_office", "symptoms") and chat.slots == {"temperature": 36.6}
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
    assert second.state == ("home_office", "test_result")


def test_an_idle_checkin_expires(registered, db_session, clock):
    chat = registered
    chat.say("打卡")
    chat.expect(("36.6", "症状"))
    clock.advance(minutes=31)
    reply = chat.say("6")
    assert "长时间没有回复" in reply and TITLE in reply
    assert chat.state is None and count(db_session, HealthCheckin) == 0


# -- one check-in a day ----------------------------------------------------------------------------
def test_a_second_checkin_the_same_day_updates_the_first(registered, db_session, clock):
    chat = registered
    chat.say("打卡")
    chat.expect(*HEALTHY)
    clock.set("2022-05-23 20:00")
    assert "今天已经打过卡了" in chat.say("打卡")
    chat.expect(("36.8", "症状"), ("6", "核酸"), ("3", "去过哪里"))
    reply = chat.say("下楼做了核酸")
    assert "已按这次填写更新" in reply and "36.8℃" in reply
    checkin = db_session.scalars(select(HealthCheckin)).one()
    assert (checkin.temperature, checkin.test_result, checkin.test_date) == (36.8, "未检测", None)
    assert checkin.whereabouts == "下楼做了核酸"

    clock.set("2022-05-24 08:00")  # a new day: a new row
    assert "今天已经打过卡了" not in chat.say("打卡")
    chat.expect(*HEALTHY)
    assert [c.day for c in db_session.scalars(select(HealthCheckin).order_by(HealthCheckin.day))] == [
        date(2022, 5, 23), date(2022, 5, 24)]


def test_checkin_day_is_the_beijing_date(registered, db_session, clock):
    chat = registered
    clock.set("2022-05-24 00:30")  # 2022-05-23 16:30 UTC, already the 24th in Beijing
    assert "今天（5月24日）" in chat.say("打卡")
    chat.expect(*HEALTHY)
    assert db_session.scalars(select(HealthCheckin)).one().day == date(2022, 5, 24)


def test_the_database_refuses_two_checkins_for_one_day(registered, db_session):
    worker = the_worker(db_session)
    for _ in range(2):
        db_session.add(HealthCheckin(worker_id=worker.id, day=date(2022, 5, 23), temperature=36.5, symptoms=["无"],
                                     whereabouts="在家"))
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()


# -- whereabouts as a location message ----------------------------------------------------------------
LOCATION = {"Location_X": "39.98", "Location_Y": "116.47", "Scale": "15", "Label": "北京市朝阳区花家地西里"}


def test_a_location_message_answers_the_whereabouts_question(registered, db_session):
    chat = registered
    chat.say("打卡")
    assert "已收到您的位置" in chat.send("location", LOCATION)  # not a whereabouts step yet: just thanks
    assert chat.state == ("home_office", "temperature")
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
    assert chat.state == ("home_office", "new_end")
    assert "已延长居家办公至6月5日" in chat.say("6月5日")
    reg = db_session.scalars(select(HomeOfficeRegistration)).one()
    assert (reg.status, reg.end_date) == ("active", date(2022, 6, 5))
    assert "5月23日–6月5日" in chat.say("打卡")


def test_a_lapsed_period_offers_extend_or_end(registered, db_session, clock):
    chat = registered
    clock.set("2022-06-01 09:00")
    reply = chat.say("打卡")
    assert "已于5月29日到期" in reply and "1 延长" in reply
    chat.expect(("1", "要延长到哪天"))
    assert "已于5月29日到期" in chat.say("返回")
    assert chat.state == ("home_office", "lapsed")
    chat.expect(("1", "要延长到哪天"), ("6月8日", "已延长居家办公至6月8日"))
    assert db_session.scalars(select(HomeOfficeRegistration)).one().end_date == date(2022, 6, 8)
    clock.set("2022-06-09 09:00")
    chat.expect(("打卡", "已于6月8日到期"), ("2", "已结束居家办公报备"))
    assert db_session.scalars(select(HomeOfficeRegistration)).one().status == "ended"


# -- queries for reminders and retention ----------------------------------------------------------------------
def test_due_checkins_lists_active_registrations_without_todays_checkin(app, make_chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    workers = {name: make_chat(f"o_{name}") for name in ("done", "due", "ended", "later")}
    for name, chat in workers.items():
        chat.event("CLICK", "HOME_OFFICE")
        start = "5月25日" if name == "later" else "今天"
        chat.expect(*CONSENT, *REGISTRATION[:3], (start, "哪天结束"), *REGISTRATION[4:])
    workers["done"].say("打卡")
    workers["done"].expect(*HEALTHY)
    workers["ended"].expect(("打卡", "体温"), ("结束", "确认"), ("1", "已结束"))

    def due(day):
        return sorted(r.worker.openid for r in service.due_checkins(db_session, day))

    db_session.expire_all()
    assert due(date(2022, 5, 23)) == ["o_due"]
    assert due(date(2022, 5, 25)) == ["o_done", "o_due", "o_later"]
    assert due(date(2022, 5, 30)) == []  # every period has ended by then


def test_purge_deletes_health_data_kept_past_the_promised_time(registered, db_session, clock):
    chat = registered
    chat.say("打卡")
    chat.expect(*HEALTHY)
    assert service.purge(db_session, date(2022, 6, 28)) == 0  # 5月29日 + 30 days: still kept
    assert service.purge(db_session, date(2022, 6, 29)) == 2
    assert count(db_session, HealthCheckin) == 0 and count(db_session, HomeOfficeRegistration) == 0
