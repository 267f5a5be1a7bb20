"""入会申请 (flow.membership): transcripts, then the rows – and the ID number never stored in clear."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot.extensions import db
from bot.flows.membership import id_number
from bot.models import Consent, Dialog, Escalation, MembershipApplication, Message, Outbox, Worker
from bot.masking import mask, mask_id_number
from bot.services import crypto, membership
from tests.support import Chat

ID = "11010519880514209X"  # valid; not the example the prompt shows (11010519491231002X)
PHONE = "13812345678"
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def with_check_digit(first17: str) -> str:
    """Complete a 17-digit prefix with its GB 11643 check digit."""
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


OTHER_ID = with_check_digit("11010819900307123")  # 海淀, 1990-03-07
BAD_CHECK = ID[:-1] + "1"

# Every answer of the happy path, in order, with a fragment of the next question.
ANSWERS = [
    ("1", "姓名"),                              # consent
    ("张三", "身份证号"),
    ("110105 1988 0514 209x", "手机号"),          # spaces and a lower-case x
    ("+86 138-1234-5678", "工作单位"),           # +86 and dashes
    ("北京顺达快递有限公司", "单位有工会吗"),
    ("２", "哪个区"),                            # full-width 2 → 没有
    ("三", "哪个行业"),                          # 三 → 朝阳区
    ("1", "请核对"),                             # 快递物流
]
# What Chat.start needs to seed a dialog at any step (the ID slot is filled in an app context).
SLOTS = {"consent": True, "name": "张三", "id": None, "phone": PHONE, "employer": "北京顺达快递有限公司",
         "has_union": "no", "district": "朝阳区", "industry": "快递物流"}
ORDER = ["consent", "name", "id", "phone", "employer", "has_union", "district", "industry", "confirm", "edit"]


def click(chat: Chat, key: str) -> str:
    """A menu click (each gets its own CreateTime: WeChat dedupes events by sender + CreateTime)."""
    return chat.click(key)


def fill(chat: Chat, answers=ANSWERS) -> str:
    assert "同意" in click(chat, "MEMBERSHIP"), chat.format_transcript()
    chat.expect(*answers)
    return chat.transcript[-1][1]


def apply(chat: Chat, answers=ANSWERS) -> str:
    fill(chat, answers)
    return chat.say("提交")


def slots_before(app, state: str) -> dict:
    with app.app_context():
        slots = {**SLOTS, "id": membership.protect_id(ID)}
    return {k: v for k, v in slots.items() if ORDER.index(k) < ORDER.index(state)}


def application_of(db_session, chat: Chat) -> MembershipApplication | None:
    db_session.expire_all()
    worker = db_session.scalars(select(Worker).where(Worker.openid == chat.sim.openid)).one()
    return membership.of_worker(db_session, worker)


def applications(db_session) -> list[MembershipApplication]:
    db_session.expire_all()
    return db_session.scalars(select(MembershipApplication)).all()


# -- the happy path ---------------------------------------------------------------------------
def test_worker_applies_through_the_menu(chat, db_session):
    notice = click(chat, "MEMBERSHIP")
    for fact in ("收集", "用途", "谁能看到", "保存多久", "回复 1 同意"):  # the PIPL notice
        assert fact in notice
    chat.expect(*ANSWERS)
    summary = chat.transcript[-1][1]
    for line in ("1 姓名：张三", "2 身份证号：110105********209X", "3 手机号：13812345678",
                 "4 工作单位：北京顺达快递有限公司", "5 单位工会：没有", "6 工作地区：朝阳区", "7 行业：快递物流",
                 "转到朝阳区所在街道（乡镇）总工会办理", "回复 1 提交，回复 2 修改"):
        assert line in summary
    reply = chat.say("1")  # 1 submits, as at every confirmation
    assert "已提交" in reply and "朝阳区所在街道（乡镇）总工会" in reply and "我的入会进度" in reply
    assert chat.state is None

    application = applications(db_session)[0]
    assert (application.name, application.phone, application.employer, application.employer_has_union,
            application.district, application.industry, application.status, application.routed_to) == (
        "张三", PHONE, "北京顺达快递有限公司", "no", "朝阳区", "快递物流", "pending", "朝阳区所在街道（乡镇）总工会")
    assert f"编号 {application.id}" in reply
    assert application.id_number_masked == "110105********209X"
    consent = db_session.scalars(select(Consent)).one()
    assert (consent.worker_id, consent.purpose, consent.withdrawn_at) == (application.worker_id, "membership", None)


def test_the_id_number_is_encrypted_and_an_admin_can_read_it(chat, app, db_session):
    apply(chat)
    application = applications(db_session)[0]
    assert application.id_number_encrypted != ID
    assert crypto.decrypt(application.id_number_encrypted) == ID  # what the staff dashboard will show
    assert application.id_number_hash == crypto.keyed_hash(ID)


def test_the_id_number_is_stored_in_clear_nowhere(chat, app, db_session):
    typed = "110105 1988 0514 209x"
    click(chat, "MEMBERSHIP")
    chat.expect(("1", "姓名"), ("张三", "身份证号"))
    chat.expect((BAD_CHECK, "身份证号不对"))  # a near miss is masked in the log too
    chat.expect((f"我的身份证是 {typed}", "手机号"), *ANSWERS[3:])
    chat.say("提交")
    chat.say("转人工")  # the escalation copies recent messages
    assert db_session.scalars(select(Escalation)).one()

    for table in db.metadata.sorted_tables:
        for row in db_session.execute(select(table)).mappings():
            for column, value in row.items():
                assert not any(r in str(value) for r in (ID, typed, BAD_CHECK)), f"{table.name}.{column}"
    logged = db_session.scalars(select(Message.content).where(Message.content.contains("110105"))).all()
    assert "我的身份证是 110105********209X" in logged
    # The valid number never reached the disk: not in the database file, not in any WAL frame.
    database = Path(db.engine.url.database)
    for path in (database, Path(f"{database}-wal")):
        data = path.read_bytes() if path.exists() else b""
        assert not any(r.encode() in data for r in (ID, typed, ID.lower())), f"{path.name} holds the ID number"


@pytest.mark.parametrize(("answer", "code", "routed", "told"), [
    ("1", "yes", "本单位工会", "由本单位工会审核"),
    ("有", "yes", "本单位工会", "由本单位工会审核"),
    ("没有", "no", "朝阳区所在街道（乡镇）总工会", "您的单位还没有工会"),
    ("3", "unsure", "朝阳区总工会", "核实您的单位是否建了工会"),
    ("不清楚", "unsure", "朝阳区总工会", "核实您的单位是否建了工会"),
])
def test_whether_the_employer_has_a_union_decides_who_handles_it(chat, db_session, answer, code, routed, told):
    answers = [*ANSWERS[:5], (answer, "哪个区"), *ANSWERS[6:]]
    summary = fill(chat, answers)
    assert told in summary and routed in summary
    assert routed in chat.say("确认")
    assert (applications(db_session)[0].employer_has_union, applications(db_session)[0].routed_to) == (code, routed)


def test_free_text_and_the_menu_reply_enter_the_flow(chat):
    assert "回复 1 同意" in chat.say("我要入会")
    chat.say("取消")
    chat.say("菜单")
    assert "回复 1 同意" in chat.say("2")  # 2 入会申请
    assert chat.state == ("membership", "consent")


# -- consent ------------------------------------------------------------------------------------
def test_declining_consent_stores_nothing(chat, db_session):
    click(chat, "MEMBERSHIP")
    reply = chat.say("不同意")
    assert "没有保存任何信息" in reply and "入会" in reply
    assert chat.state is None
    assert db_session.scalars(select(Consent)).all() == []
    assert applications(db_session) == []
    dialog = db_session.scalars(select(Dialog)).one()
    assert dialog.slots == {}


def test_consent_is_recorded_when_the_worker_agrees_and_before_any_answer(chat, db_session):
    click(chat, "MEMBERSHIP")
    assert db_session.scalars(select(Consent)).all() == []
    chat.expect(("同意", "姓名"))
    assert db_session.scalars(select(Consent)).one().purpose == "membership"


# -- validation: every step re-asks with an example, nothing lost ---------------------------------
@pytest.mark.parametrize(("state", "answer", "hint"), [
    ("consent", "再看看", "回复 1 同意，或回复 2 不同意"),
    ("name", "1", "例如：张三"),
    ("name", "张" * 21, "最多20个字"),
    ("name", "张", "例如：张三"),
    ("name", "zhang3", "例如：张三"),
    ("name", "😀😀", "例如：张三"),
    ("id", BAD_CHECK, "身份证号不对"),
    ("id", ID[:-1], "18位"),
    ("id", "11010519881314209X", "身份证号不对"),  # no 13th month
    ("id", "我不想填", "例如：11010519491231002X"),
    ("phone", "1381234567", "例如：13812345678"),
    ("phone", "010-12345678", "例如：13812345678"),  # a landline
    ("phone", "+1 415 555 2671", "例如：13812345678"),
    ("employer", "A", "例如：北京顺达快递有限公司"),
    ("has_union", "也许", "1 有，2 没有，3 不清楚"),
    ("has_union", "4", "1 有，2 没有，3 不清楚"),
    ("district", "17", "1–16"),
    ("district", "0", "1–16"),
    ("district", "上海", "1–16"),
    ("industry", "11", "1–10"),
    ("confirm", "8", "回复 1 提交"),
    ("confirm", "等一下", "例如：改手机号"),
    ("edit", "8", "例如回复 3 修改手机号"),
])
def test_an_invalid_answer_is_reasked_with_an_example(app, chat, state, answer, hint):
    slots = slots_before(app, state)
    chat.start("flow.membership", state=state, **slots)
    reply = chat.say(answer)
    assert hint in reply, chat.format_transcript()
    assert chat.state == ("membership", state)
    assert chat.slots == slots


@pytest.mark.parametrize(("state", "answer", "slot", "value"), [
    ("consent", "１", "consent", True),
    ("name", "我叫 王小明", "name", "王小明"),
    ("name", "阿依古丽·买买提", "name", "阿依古丽·买买提"),
    ("phone", "１３８ １２３４ ５６７８", "phone", PHONE),
    ("phone", "138-1234-5678", "phone", PHONE),
    ("has_union", "沒有", "has_union", "no"),  # Traditional Chinese
    ("has_union", "不清楚", "has_union", "unsure"),  # the option's own words
    ("district", "朝陽", "district", "朝阳区"),
    ("district", "十六", "district", "延庆区"),
    ("industry", "网约车", "industry", "网约车/出租车"),
    ("industry", "外賣配送", "industry", "外卖配送"),
])
def test_answers_are_understood_in_many_forms(app, chat, state, answer, slot, value):
    chat.start("flow.membership", state=state, **slots_before(app, state))
    chat.say(answer)
    assert chat.slots[slot] == value, chat.format_transcript()


def test_the_third_failed_id_offers_a_human(app, chat):
    chat.start("flow.membership", state="id", **slots_before(app, "id"))
    assert "转人工" not in chat.say(BAD_CHECK)
    assert "转人工" not in chat.say("123")
    assert "转人工" in chat.say("不知道")


def test_a_blank_name_shows_the_menu_and_the_flow_waits(app, chat):
    chat.start("flow.membership", state="name", **slots_before(app, "name"))
    assert "回复「继续」" in chat.say("   ")  # empty text is the menu command, never a name
    assert "姓名" in chat.say("继续")
    assert chat.state == ("membership", "name") and "name" not in chat.slots


@pytest.mark.parametrize("said, asked", [("我的入会进度", "查看入会进度"), ("法律援助", "预约法律援助"),
                                         ("公司拖欠工资怎么办", "的解答")])
def test_a_service_phrase_or_a_question_at_the_name_is_never_stored_as_the_name(app, chat, said, asked):
    chat.start("flow.membership", state="name", **slots_before(app, "name"))
    reply = chat.say(said)
    assert "您正在办理「入会申请」" in reply and asked in reply and "1 是" in reply
    assert chat.state == ("membership", "name") and "name" not in chat.slots
    chat.expect(("2", "请输入您的姓名"), ("张三", "身份证号"))
    assert chat.slots["name"] == "张三"


def test_switching_from_the_form_keeps_the_draft_for_later(app, chat, db_session):
    chat.start("flow.membership", state="employer", **slots_before(app, "employer"))
    assert "查看入会进度" in chat.say("我的入会进度")
    status = chat.say("1")
    assert "还没有提交入会申请" in status and "回复「继续」接着填写" in status
    chat.expect(("继续", "工作单位全称"), ("北京顺达快递有限公司", "单位有工会吗"))
    assert chat.slots["name"] == "张三" and chat.slots["phone"] == PHONE


# -- the confirmation: 1 submits, 2 changes a field -------------------------------------------------
def test_a_field_is_changed_from_the_confirmation_and_the_summary_returns(chat, db_session):
    fill(chat)
    chat.expect(("2", "要修改哪一项"), ("3", "手机号"))
    summary = chat.say("13900001111")
    assert "3 手机号：13900001111" in summary and "请核对" in summary
    assert chat.state == ("membership", "confirm")
    chat.expect(("修改", "要修改哪一项"), ("2", "身份证号"), (OTHER_ID, "请核对"))
    assert f"2 身份证号：{mask_id_number(OTHER_ID)}" in chat.transcript[-1][1]
    chat.expect(("2", "要修改哪一项"), ("单位工会", "单位有工会吗"), ("1", "由本单位工会审核"))
    chat.expect(("改行业", "哪个行业"), ("信息技术", "7 行业：信息技术"))  # a field named outright
    assert "已提交" in chat.say("1")
    application = applications(db_session)[0]
    assert (application.phone, application.employer_has_union, application.industry) == (
        "13900001111", "yes", "信息技术")
    assert crypto.decrypt(application.id_number_encrypted) == OTHER_ID


def test_one_at_the_confirmation_means_submit_never_edit_the_name(chat, db_session):
    fill(chat)
    assert "已提交" in chat.say("1")
    assert applications(db_session)[0].name == "张三"


def test_back_while_changing_a_field_returns_to_the_summary(chat):
    fill(chat)
    chat.expect(("2", "要修改哪一项"), ("6", "哪个区"))
    assert "请核对" in chat.say("返回")
    assert chat.state == ("membership", "confirm")
    chat.expect(("2", "要修改哪一项"), ("返回", "请核对"))


# -- global commands mid-flow -------------------------------------------------------------------
@pytest.mark.parametrize("state", ORDER)
def test_cancel_in_any_step_ends_the_flow_and_stores_no_application(app, chat, db_session, state):
    chat.start("flow.membership", state=state, **slots_before(app, state))
    assert "已取消「入会申请」" in chat.say("取消")
    assert chat.state is None
    assert applications(db_session) == []


def test_back_goes_to_the_previous_question(chat):
    click(chat, "MEMBERSHIP")
    chat.expect(*ANSWERS[:3])
    assert "身份证号" in chat.say("返回")
    assert chat.state == ("membership", "id")
    assert "姓名" in chat.say("上一步")
    assert "第一步" in chat.say("返回")  # no way back into the consent from the first question
    assert chat.state == ("membership", "name")


def test_menu_pauses_and_continue_resumes(chat, db_session):
    click(chat, "MEMBERSHIP")
    chat.expect(*ANSWERS[:6])
    reply = chat.say("菜单")
    assert "入会申请" in reply and "回复「继续」" in reply
    assert "哪个区" in chat.say("继续")
    chat.expect(*ANSWERS[6:])
    assert "已提交" in chat.say("提交")
    assert len(applications(db_session)) == 1


def test_handoff_mid_flow_then_back_to_the_form(chat, db_session):
    click(chat, "MEMBERSHIP")
    chat.expect(*ANSWERS[:4])
    assert "人工服务" in chat.say("转人工")
    assert "工作人员" in chat.say("我们单位有没有工会我不清楚")
    escalation = db_session.scalars(select(Escalation)).one()
    assert escalation.status == "open"
    assert not any(ID in str(m["content"]) for m in escalation.transcript)
    assert "回到自动服务" in chat.say("结束人工")
    assert "工作单位" in chat.say("继续")
    assert chat.state == ("membership", "employer")


def test_the_form_survives_an_app_restart(make_app, db_session):
    first = Chat(make_app(), openid="o_restart")
    fill(first, ANSWERS[:4])
    second = Chat(make_app(), openid="o_restart")  # another process, same database
    second.expect(*ANSWERS[4:])
    assert "已提交" in second.say("提交")
    assert len(applications(db_session)) == 1


def test_an_idle_form_expires(chat, clock, db_session):
    clock.set("2025-03-10 09:00")
    click(chat, "MEMBERSHIP")
    chat.expect(*ANSWERS[:3])
    clock.advance(minutes=31)
    reply = chat.say(PHONE)
    assert "长时间没有回复" in reply and "入会申请" in reply
    assert chat.state is None
    assert applications(db_session) == []


# -- one application per worker and per ID number -------------------------------------------------
def test_the_same_worker_cannot_apply_twice(chat, db_session):
    apply(chat)
    reply = click(chat, "MEMBERSHIP")
    assert "不能重复申请" in reply and "审核中" in reply and "110105********209X" in reply
    assert "回复 1 撤回申请，或回复 2 保留申请" in chat.say("再申请一份")
    assert "好的，申请保留" in chat.say("2")
    assert chat.state is None
    reply = chat.say("我要入会")
    assert "不能重复申请" in reply
    assert len(applications(db_session)) == 1


def test_another_worker_with_the_same_id_number_is_refused_at_the_id_step(make_chat, db_session):
    apply(make_chat("o_first"))
    second = make_chat("o_second")
    click(second, "MEMBERSHIP")
    second.expect(("1", "姓名"), ("李四", "身份证号"))
    reply = second.say(ID)
    assert "已经提交过入会申请" in reply and "审核中" in reply and "转人工" in reply
    assert second.state is None
    assert len(applications(db_session)) == 1


def test_the_id_number_is_checked_again_at_submit(make_chat, db_session):
    second = make_chat("o_second")
    fill(second)  # ID still free when typed …
    apply(make_chat("o_first"))  # … then someone else submits it first
    assert "已经提交过入会申请" in second.say("提交")
    assert second.state is None
    assert [a.worker.openid for a in applications(db_session)] == ["o_first"]


def test_the_database_refuses_a_second_application_for_one_id_number(chat, db_session, app):
    apply(chat)
    other = Worker(openid="o_sneaky")
    db_session.add(other)
    db_session.flush()
    fields = {**SLOTS, "id": membership.protect_id(ID)}
    with pytest.raises(IntegrityError):
        membership.submit(db_session, other, fields)
    db_session.rollback()


def test_an_approved_worker_is_refused_on_entry(chat, db_session):
    apply(chat)
    membership.decide(db_session, application_of(db_session, chat), approved=True, reason=None, staff="staff:wang")
    db_session.commit()
    reply = click(chat, "MEMBERSHIP")
    assert "已经是工会会员" in reply
    assert chat.state is None


# -- withdraw, decide, re-apply -------------------------------------------------------------------
def test_a_pending_application_can_be_withdrawn_and_made_again(chat, db_session):
    apply(chat)
    first_id = application_of(db_session, chat).id
    assert "回复「入会」" in click(chat, "MY_APPLICATION")  # the status says how to withdraw …
    assert "要撤回这份申请吗" in chat.say("入会")  # … and that is what happens
    assert "已撤回" in chat.say("撤回申请")
    assert application_of(db_session, chat).status == "withdrawn"
    assert "已撤回" in click(chat, "MY_APPLICATION")
    assert "已提交" in apply(chat)
    application = application_of(db_session, chat)
    assert (application.id, application.status) == (first_id, "pending")


def test_decide_approves_and_queues_a_notice(chat, db_session):
    apply(chat)
    application = application_of(db_session, chat)
    message = membership.decide(db_session, application, approved=True, reason=None, staff="staff:wang")
    db_session.commit()
    assert (application.status, application.decided_by) == ("approved", "staff:wang")
    assert application.decided_at is not None
    assert (message.kind, message.dedupe_key, message.status) == (
        "text", f"membership:{application.id}:approved:1", "pending")
    assert "已通过" in message.payload["content"] and message.worker_id == application.worker_id
    assert "已于" in click(chat, "MY_APPLICATION")


def test_a_rejected_worker_sees_the_reason_and_applies_again(chat, db_session):
    apply(chat)
    application = application_of(db_session, chat)
    membership.decide(db_session, application, approved=False, reason="工作单位名称不完整", staff="staff:li")
    db_session.commit()
    notice = db_session.scalars(select(Outbox)).one()
    assert notice.dedupe_key == f"membership:{application.id}:rejected:1"
    assert "工作单位名称不完整" in notice.payload["content"]

    status = click(chat, "MY_APPLICATION")
    assert "未通过" in status and "工作单位名称不完整" in status
    assert "工作单位名称不完整" in click(chat, "MEMBERSHIP")  # the reason, then the consent notice
    answers = [*ANSWERS[:4], ("北京顺达快递有限公司朝阳分公司", "单位有工会吗"), *ANSWERS[5:]]
    chat.expect(*answers)
    assert "已提交" in chat.say("提交")
    again = application_of(db_session, chat)
    assert (again.id, again.status, again.reject_reason, again.decided_by) == (application.id, "pending", None, None)
    assert again.employer == "北京顺达快递有限公司朝阳分公司"

    membership.decide(db_session, again, approved=False, reason="请联系单位工会", staff="staff:li")
    db_session.commit()
    keys = db_session.scalars(select(Outbox.dedupe_key).order_by(Outbox.id)).all()
    assert keys == [f"membership:{again.id}:rejected:1", f"membership:{again.id}:rejected:2"]


def test_decide_needs_a_pending_application_and_a_reason_to_reject(chat, db_session):
    apply(chat)
    application = application_of(db_session, chat)
    with pytest.raises(ValueError, match="reason"):
        membership.decide(db_session, application, approved=False, reason=" ", staff="staff:li")
    membership.decide(db_session, application, approved=True, reason=None, staff="staff:li")
    with pytest.raises(ValueError, match="pending"):
        membership.decide(db_session, application, approved=False, reason="重复", staff="staff:li")
    with pytest.raises(ValueError, match="pending"):
        membership.withdraw(db_session, application)


# -- status text ----------------------------------------------------------------------------------
def test_status_without_an_application(chat):
    assert "还没有提交入会申请" in click(chat, "MY_APPLICATION")
    chat.say("菜单")
    assert "还没有提交入会申请" in chat.say("5")  # 5 我的入会进度


def test_status_of_a_pending_application(chat, clock):
    clock.set("2025-03-10 09:00")
    apply(chat)
    status = click(chat, "MY_APPLICATION")
    for fact in ("审核中", "2025年3月10日", "朝阳区所在街道（乡镇）总工会", "110105********209X", "回复 1 撤回"):
        assert fact in status
    assert ID not in status
    assert chat.state is None


# -- configuration --------------------------------------------------------------------------------
def test_districts_and_industries_come_from_the_options_file(make_app, tmp_path, db_session):
    options = tmp_path / "shanghai.yaml"
    options.write_text("districts: [黄浦区, 浦东新区]\nindustries: [港口运输, 其他]\n"
                       'routes: {"yes": 本单位工会, "no": "{district}街道工会", "unsure": "{district}总工会"}\n',
                       encoding="utf-8")
    chat = Chat(make_app(MEMBERSHIP_OPTIONS_FILE=str(options)))
    click(chat, "MEMBERSHIP")
    chat.expect(*ANSWERS[:5])
    assert "2 浦东新区" in chat.say("2") and chat.slots["has_union"] == "no"
    chat.expect(("浦东", "1 港口运输"), ("1", "浦东新区街道工会"))
    assert "3 制造业" not in chat.transcript[-3][1]


def test_a_malformed_options_file_is_reported(make_app, tmp_path):
    options = tmp_path / "broken.yaml"
    options.write_text("districts: []\nindustries: [其他]\n", encoding="utf-8")
    with make_app(MEMBERSHIP_OPTIONS_FILE=str(options)).app_context(), \
            pytest.raises(membership.OptionsError, match="districts"):
        membership.options()


# -- properties -----------------------------------------------------------------------------------
valid_ids = st.builds(
    lambda region, birth, seq: with_check_digit(f"{region}{birth:%Y%m%d}{seq:03d}"),
    st.sampled_from(["110101", "110105", "110108", "310115", "440305"]),
    st.dates(min_value=date(1940, 1, 1), max_value=date(2008, 12, 31)),
    st.integers(0, 999),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=valid_ids, style=st.sampled_from(["plain", "lower", "spaced", "fullwidth"]))
def test_any_valid_id_is_accepted_protected_and_masked_in_text(app, number, style):
    typed = {"plain": number, "lower": number.lower(), "spaced": f"{number[:6]} {number[6:14]} {number[14:]}",
             "fullwidth": number.translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)})}[style]
    with app.app_context():
        protected = id_number(typed)
        assert crypto.decrypt(protected["encrypted"]) == number
        assert protected["hash"] == crypto.keyed_hash(number)
        assert protected["masked"] == number[:6] + "********" + number[-4:]
        logged = mask(f"身份证：{typed}，电话{PHONE}")
        assert number not in logged and protected["masked"] in logged and PHONE not in logged


def test_models_have_the_uniqueness_the_flow_relies_on(app):
    with app.app_context():
        inspector = inspect(db.engine)
        columns = {c["name"] for c in inspector.get_columns("membership_application")}
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("membership_application")}
        uniques |= {tuple(i["column_names"]) for i in inspector.get_indexes("membership_application") if i["unique"]}
    assert "id_number" not in columns
    assert {("worker_id",), ("id_number_hash",)} <= uniques
