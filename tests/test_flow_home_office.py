"""居家办公报备 (bot/flows/home_office.py): consent, registration, the way into the check-in, as transcripts."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from bot.flows import home_office as flow
from bot.flows.steps import Invalid
from bot.models import Consent, Escalation, HealthCheckin, HomeOfficeRegistration, Worker
from bot.services import home_office as service
from tests.support import Chat

TITLE = "居家办公报备"
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
    assert "单独同意" in chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION)
    return chat


# -- the happy path ---------------------------------------------------------------------------
def test_consent_then_registration_then_first_checkin(chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    notice = chat.click("HOME_OFFICE")
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
    chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION[:-1], ("2", "工作单位全称"))
    assert chat.state == ("home_office", "employer")
    assert count(db_session, HomeOfficeRegistration) == 0


# -- consent ----------------------------------------------------------------------------------
def test_declining_consent_shows_the_rules_and_stores_nothing(chat, db_session):
    chat.click("HOME_OFFICE")
    reply = chat.say("不同意")
    assert "没有保存" in reply and "不聚会" in reply and "服从社区管理" in reply
    assert chat.state is None
    for model in (Consent, HomeOfficeRegistration, HealthCheckin, Escalation):
        assert count(db_session, model) == 0, model.__name__
    assert "单独同意" in chat.say("打卡")  # asked again next time: nothing was recorded


def test_rules_have_a_fallback_when_the_faq_is_missing(make_app, tmp_path):
    (tmp_path / "empty_faq").mkdir()
    chat = Chat(make_app(FAQ_DIR=str(tmp_path / "empty_faq")))
    chat.click("HOME_OFFICE")
    reply = chat.say("2")
    assert "没有保存" in reply and "不聚会" in reply and "核酸检测" in reply


def test_consent_is_asked_once(chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, ("北京市某某科技有限公司", "街道和社区"))
    assert "已取消" in chat.say("取消")
    assert count(db_session, Consent) == 1 and count(db_session, HomeOfficeRegistration) == 0
    clock.advance(seconds=5)  # events are deduplicated by sender + CreateTime
    again = chat.click("HOME_OFFICE")
    assert "单独同意" not in again and "工作单位全称" in again
    chat.expect(*REGISTRATION)
    assert count(db_session, Consent) == 1


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("parser, text, hint", [
    ("start", "过几天", "请输入开始日期，例如：今天、明天、5月30日"),
    ("start", "2022-02-30", "请输入开始日期，例如：今天、明天、5月30日"),
    ("start", "2022-01-01", "开始日期要在4月23日到6月22日之间，例如：今天、明天、5月30日"),
    ("end", "昨天", "结束日期要在5月23日到8月21日之间，例如：今天、明天、5月30日"),
    ("test", "明天", "检测日期要在3月24日到5月23日之间，例如：今天、昨天、5月20日"),
])
def test_bad_dates_are_refused_with_an_example(clock, parser, text, hint):
    clock.set("2022-05-23 09:00")
    parse = {"start": flow.day_between(30, 30, "开始日期"), "end": flow.day_between(0, 90, "结束日期"),
             "test": flow.day_between(60, 0, "检测日期")}[parser]
    with pytest.raises(Invalid) as exc:
        parse(text)
    assert hint in exc.value.hint
    for example in hint.rpartition("例如：")[2].split("、"):  # the examples a hint shows are accepted
        parse(example)


def test_a_range_across_the_new_year_shows_the_years(clock):
    clock.set("2026-12-20 09:00")
    with pytest.raises(Invalid) as exc:
        flow.day_between(30, 30, "开始日期")("2026-10-01")
    assert "开始日期要在2026年11月20日到2027年1月19日之间" in exc.value.hint
    assert flow.day_between(30, 30, "开始日期")("1月5日") == "2027-01-05"  # in December: next January


def test_date_phrases_are_understood(clock):
    clock.set("2022-05-23 23:30")  # Beijing time: still the 23rd (15:30 UTC)
    parse = flow.day_between(30, 30, "开始日期")
    assert [parse(t) for t in ("今天", "明天", "5月25日", "2022-05-26", "下周一")] == [
        "2022-05-23", "2022-05-24", "2022-05-25", "2022-05-26", "2022-05-30"]


def test_invalid_answers_in_the_chat_are_reasked_and_nothing_is_lost(chat, clock):
    clock.set("2022-05-23 09:00")
    chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION[:3])
    assert "例如：今天、明天、5月30日" in chat.say("过几天吧")
    reply = chat.say("2021-05-23")
    assert "开始日期要在" in reply and "没看懂" not in reply  # understood, only out of range
    chat.expect(("5月25日", "哪天结束"))
    reply = chat.say("5月24日")
    assert "结束日期不能早于开始日期（5月25日）" in reply and "哪天结束" in reply
    assert chat.state == ("home_office", "end_date") and "end_date" not in chat.slots
    assert "结束日期要在" in chat.say("5月20日")
    chat.expect(("5月25日", "报到"))  # the same day as the start is fine
    assert chat.slots["start_date"] == "2022-05-25" and chat.slots["end_date"] == "2022-05-25"


# -- global commands mid-flow -----------------------------------------------------------------
def test_cancel_during_registration_stores_no_registration(chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION[:3])
    assert f"已取消「{TITLE}」" in chat.say("取消")
    assert chat.state is None
    assert count(db_session, HomeOfficeRegistration) == 0


def test_back_goes_to_the_previous_question(chat, clock):
    clock.set("2022-05-23 09:00")
    chat.click("HOME_OFFICE")
    chat.expect(*CONSENT)
    assert "已经是第一步" in chat.say("返回")
    chat.expect(*REGISTRATION[:3])
    assert "居住地址" in chat.say("返回")
    assert chat.state == ("home_office", "address")
    chat.expect(("花家地西里3号楼", "哪天开始"), ("今天", "哪天结束"), ("5月29日", "报到"), ("1", "请确认"))
    assert "报到了吗" in chat.say("上一步")
    assert chat.slots["address"] == "花家地西里3号楼"


# -- queries for reminders and retention ----------------------------------------------------------------------
def test_due_checkins_lists_active_registrations_without_todays_checkin(app, make_chat, db_session, clock):
    clock.set("2022-05-23 09:00")
    workers = {name: make_chat(f"o_{name}") for name in ("done", "due", "ended", "later")}
    for name, chat in workers.items():
        chat.click("HOME_OFFICE")
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


def test_the_reported_step_takes_its_own_words(chat, clock):
    """The prompt says 回复 1 已报到: typing 已报到 works as well as 1."""
    clock.set("2022-05-23 09:00")
    chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, *REGISTRATION[:4], ("5月29日", "报到"), ("已报到", "请确认"))
    assert chat.slots["reported"] is True
    chat.expect(("返回", "报到了吗"), ("还没有", "请确认"))
    assert chat.slots["reported"] is False
