"""居家办公报备 and 每日健康打卡 – register a home-office period, then check in every day.

Where a worker lands when entering (menu 居家办公报备 / 每日健康打卡, or 居家办公报备, 打卡,
健康打卡 …) is decided by `initial()`:
  · an active registration  → straight to today's check-in (temperature); if its end date
    has passed → lapsed (1 延长, 2 结束);
  · consent already given    → registration (employer);
  · otherwise                → consent. Health data and whereabouts are sensitive personal
    information (PIPL art. 28): the notice says what is kept, how long and who sees it, and
    nothing is stored without 同意. Declining shows the rules (FAQ home_office.rules) only.

registration: employer → community → address → start_date → end_date → reported → confirm
              → registered (rules shown, HomeOfficeRegistration created)
check-in:     temperature → symptoms → test_result → [test_date unless 未检测] → whereabouts
              → checked_in (one HealthCheckin per day; a second one updates it)
end / extend: the check-in's first question also takes 「结束」/「结束居家办公」 and
              「延长」/「延长居家办公」 (the prompt says so), so the daily path costs no extra
              step: 结束 → end_confirm → ended;  延长 → new_end → extended.

Checks that need two answers (end ≥ start, a later end when extending) are conditional
transitions back to the same step with a note, because a parser only sees one answer.
"""
from __future__ import annotations

from datetime import date, timedelta

from bot.clock import local_now
from bot.flows.steps import (DATE_HINT, Invalid, bounded, slot_is, choice, free_text, multi_choice, parse_date_phrase,
                             simple, temperature, yes_no)
from bot.services import home_office as service

NAME = "home_office"  # routing target: flow.home_office
TITLE = "居家办公报备 / 健康打卡"
SYMPTOMS = ["咳嗽", "发热", "乏力", "腹泻", "咽痛", "无"]
TEST_RESULTS = ["阴性", "阳性", "未检测"]
UNTESTED = "未检测"
ACTIONS = {"延长": "extend", "延长居家办公": "extend", "延期": "extend", "延长居家": "extend",
           "结束": "end", "结束居家办公": "end", "结束居家": "end", "结束报备": "end", "结束居家办公报备": "end"}
RULES_FALLBACK = ("居家办公期间请做到：\n1. 向居住地社区（村）报到，服从社区管理；\n2. 做好健康监测，按要求参加核酸检测；\n"
                  "3. 非必要不外出，不聚会、不串门、不出游、不扎堆。")
FLAGGED_ADVICE = ("⚠ 您今天的打卡有异常（{reasons}），请：\n1. 立即向居住地社区报告；\n2. 留在家中，不要外出，等待社区安排；\n"
                  "3. 需要健康咨询请拨打 12320 卫生健康热线，情况紧急请拨打 120。\n工会工作人员已收到提醒，会尽快联系您。")


def today() -> date:
    return local_now().date()


def md(day: date | str) -> str:
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{day.month}月{day.day}日"


def rules(registered: bool = False) -> str:
    """The rules from the FAQ (one text, even if the FAQ would page it); a short text if missing.

    Just after registering, a closing "回复「居家办公报备」…" paragraph would only repeat what
    the reply already says, so it is left out.
    """
    from bot import faq

    try:
        pages = faq.render("home_office.rules")
    except (KeyError, OSError, faq.FaqError):
        return RULES_FALLBACK
    paragraphs = "\n\n".join(p.removesuffix("\n\n" + faq.MORE) for p in pages).split("\n\n")
    if registered and len(paragraphs) > 1 and "回复「" in paragraphs[-1]:
        paragraphs.pop()
    return "\n\n".join(paragraphs)


# -- parsers ------------------------------------------------------------------------------
def day_between(past: int, future: int, what: str):
    """A date phrase within [today - past, today + future], stored as ISO text."""

    def parse(text: str) -> str:
        now, day = today(), parse_date_phrase(text, today())
        earliest, latest = now - timedelta(days=past), now + timedelta(days=future)
        if not earliest <= day <= latest:
            raise Invalid(f"{what}要在{md(earliest)}到{md(latest)}之间。" + DATE_HINT)
        return day.isoformat()

    return parse


@bounded()
def temperature_or_action(text: str) -> float | str:
    """The check-in's first answer: a temperature, or 延长 / 结束 the home-office period."""
    return ACTIONS.get(simple(text).removeprefix("我要").removeprefix("申请")) or temperature(text)


_pick_symptoms, _pick_result = multi_choice(SYMPTOMS, "无"), choice(TEST_RESULTS)


@bounded()
def symptoms(text: str) -> list[str]:
    """Numbered multi-choice; 没有 / 无症状 / 正常 also mean 6 无."""
    if simple(text) in {"没有", "没", "无症状", "都没有", "没有症状", "正常", "无异常", "都没"}:
        return ["无"]
    return _pick_symptoms(text)


@bounded()
def latest_test(text: str) -> str:
    """阴性 / 阳性 / 未检测 by number or word; 没做 / 没测 mean 未检测."""
    if simple(text) in {"没做", "没测", "没有做", "没有测", "没检测", "未做", "没有"}:
        return UNTESTED
    return _pick_result(text)


# -- predicates and callbacks ----------------------------------------------------------------
def consented(event):
    return event.model.slots.get("consent") is True


def grant(event):
    service.grant_consent(event.model.session, event.model.worker)


def confirmed(event):
    return event.model.slots.get("confirmed") is True


def ends_after_start(event):
    return event.model.slots["end_date"] >= event.model.slots["start_date"]  # ISO strings sort as dates


def reject_end(event):
    run = event.model
    run.notes.append(f"结束日期不能早于开始日期（{md(run.slots['start_date'])}），请重新输入。")
    run.slots = {k: v for k, v in run.slots.items() if k != "end_date"}


def register(event):
    s, run = event.model.slots, event.model
    service.register(run.session, run.worker, employer=s["employer"], community=s["community"],
                     address=s["address"], start_date=date.fromisoformat(s["start_date"]),
                     end_date=date.fromisoformat(s["end_date"]), reported_to_community=s["reported"])


def wants(action):
    return slot_is("temperature", action)


def measured(event):
    return isinstance(event.model.slots.get("temperature"), (int, float))


def untested(event):
    return event.model.slots.get("test_result") == UNTESTED


def check_in(event):
    run = event.model
    if run.slots["test_result"] == UNTESTED:  # a date answered before going back and choosing 未检测
        run.slots = {k: v for k, v in run.slots.items() if k != "test_date"}
    s = run.slots
    place = s["whereabouts"]
    location = coordinates(place) if isinstance(place, dict) else None
    row, updated = service.record_checkin(
        run.session, run.worker, today(), temperature=s["temperature"], symptoms=s["symptoms"],
        test_result=s["test_result"], test_date=date.fromisoformat(s["test_date"]) if s.get("test_date") else None,
        whereabouts=location["label"] if location else place, location=location)
    run.slots = {**s, "updated": updated,
                 "flags": service.flags(row.temperature, row.symptoms, row.test_result)}


def coordinates(place: dict) -> dict:
    """A location message's value, with lat / lng as numbers (WeChat sends them as text)."""
    def number(value):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    return {"label": str(place.get("label") or ""), "lat": number(place.get("lat")), "lng": number(place.get("lng"))}


def confirmed_end(event):
    return event.model.slots.get("end_confirmed") is True


def finish_period(event):
    registration = service.active_registration(event.model.session, event.model.worker)
    if registration is not None:
        service.end(registration)


def extends_period(event):
    registration = service.active_registration(event.model.session, event.model.worker)
    return registration is not None and date.fromisoformat(event.model.slots["new_end"]) > registration.end_date


def reject_extension(event):
    run = event.model
    registration = service.active_registration(run.session, run.worker)
    if registration is not None:
        run.notes.append(f"延长后的日期要晚于目前的结束日期（{md(registration.end_date)}），请重新输入。")


def extend_period(event):
    run = event.model
    service.extend(service.active_registration(run.session, run.worker), date.fromisoformat(run.slots["new_end"]))


NO_PERIOD = "您目前没有进行中的居家办公报备。回复「取消」结束，再回复「居家办公报备」重新报备。"


def came_from_lapsed(event):
    return "lapsed_choice" in event.model.slots


def lapsed_extend(event):
    return event.model.slots.get("lapsed_choice") == "延长居家办公"


# -- entry --------------------------------------------------------------------------------
def initial(engine) -> str:
    registration = service.active_registration(engine.session, engine.worker)
    if registration is not None:
        return "lapsed" if registration.end_date < today() else "temperature"
    return "employer" if service.has_consent(engine.session, engine.worker) else "consent"


# -- prompts that depend on the database or on several slots --------------------------------
def ask_temperature(run) -> str:
    registration = service.active_registration(run.session, run.worker)
    period = f"（居家办公 {md(registration.start_date)}–{md(registration.end_date)}）" if registration else ""
    again = "\n今天已经打过卡了，再填一次会更新今天的记录。" if service.checkin_of(run.session, run.worker, today()) else ""
    return (f"今天（{md(today())}）的健康打卡{period}{again}\n请输入您的体温（℃），例如：36.5\n"
            "要延长或结束居家办公，请回复「延长」或「结束」。")


def ask_confirm(run) -> str:
    s = run.slots
    return (f"请确认报备信息：\n工作单位：{s['employer']}\n居住社区：{s['community']}\n居住地址：{s['address']}\n"
            f"居家时间：{md(s['start_date'])} 至 {md(s['end_date'])}\n"
            f"社区报到：{'已报到' if s['reported'] else '还没有'}\n回复 1 提交，回复 2 重新填写")


def ask_registered(run) -> str:
    s = run.slots
    report = "" if s["reported"] else "\n请尽快向居住地社区报到。"
    return (f"报备成功！居家办公时间：{md(s['start_date'])} 至 {md(s['end_date'])}。{report}\n"
            f"居家期间请每天回复「打卡」完成健康打卡。\n\n{rules(registered=True)}")


def ask_checked_in(run) -> str:
    s = run.slots
    test = s["test_result"] + (f"（{md(s['test_date'])}）" if s.get("test_date") else "")
    place = s["whereabouts"]["label"] if isinstance(s["whereabouts"], dict) else s["whereabouts"]
    head = "今天已经打过卡，已按这次填写更新。" if s.get("updated") else f"打卡成功（{md(today())}）！"
    summary = (f"{head}\n体温：{s['temperature']:.1f}℃\n症状：{'、'.join(s['symptoms'])}\n"
               f"核酸：{test}\n行程：{place}")
    if s.get("flags"):
        return summary + "\n\n" + FLAGGED_ADVICE.format(reasons="，".join(s["flags"]))
    return summary + "\n明天记得继续打卡。"


def ask_end(run) -> str:
    registration = service.active_registration(run.session, run.worker)
    if registration is None:
        return NO_PERIOD
    return (f"确认结束居家办公吗？（报备时间：{md(registration.start_date)} 至 {md(registration.end_date)}）\n"
            "结束后不用再每天打卡。回复 1 确认结束，回复 2 不结束")


def ask_new_end(run) -> str:
    registration = service.active_registration(run.session, run.worker)
    if registration is None:
        return NO_PERIOD
    return f"目前报备到{md(registration.end_date)}。要延长到哪天？例如：{md(registration.end_date + timedelta(days=7))}、下周五"


def ask_extended(run) -> str:
    return f"已延长居家办公至{md(run.slots['new_end'])}。居家期间请继续每天回复「打卡」。"


def ask_lapsed(run) -> str:
    registration = service.active_registration(run.session, run.worker)
    if registration is None:
        return NO_PERIOD
    return (f"您报备的居家办公已于{md(registration.end_date)}到期。\n"
            "回复 1 延长居家办公\n回复 2 结束居家办公")


CONSENT = (
    "居家办公报备和每日健康打卡要收集您的健康信息和行踪，属于敏感个人信息，需要您单独同意：\n"
    "· 保存什么：工作单位、居住社区和地址、居家起止日期，以及每天的体温、症状、核酸结果和行程；\n"
    f"· 保存多久：居家办公结束后{service.KEEP_DAYS}天，到期删除；\n"
    "· 谁能看到：只有工会负责居家办公服务的工作人员，用于了解您的情况、在打卡异常时联系您，不提供给其他单位或个人。\n"
    "如需查询、更正或删除您的信息，可回复「转人工」。\n"
    "回复 1 同意，回复 2 不同意（不同意也可以查看居家办公要求）")

STATES = [
    {"name": "consent", "slot": "consent", "parse": yes_no("同意", "不同意"), "ask": CONSENT},
    {"name": "declined", "final": True,
     "ask": lambda run: "好的，没有保存您的任何信息。以下是居家办公要遵守的要求：\n\n" + rules()},
    # registration
    {"name": "employer", "slot": "employer", "parse": free_text(max_len=128, example="北京市某某科技有限公司"),
     "ask": "请输入您的工作单位全称，例如：北京市某某科技有限公司"},
    {"name": "community", "slot": "community", "parse": free_text(max_len=128, example="朝阳区望京街道花家地社区"),
     "ask": "请输入您居住地所在的街道和社区，例如：朝阳区望京街道花家地社区"},
    {"name": "address", "slot": "address", "parse": free_text(max_len=256, example="花家地西里3号楼2单元501"),
     "ask": "请输入居住地址（写到门牌号），例如：花家地西里3号楼2单元501"},
    {"name": "start_date", "slot": "start_date", "parse": day_between(30, 30, "开始日期"),
     "ask": "从哪天开始居家办公？例如：今天、5月23日、2022-05-23"},
    {"name": "end_date", "slot": "end_date", "parse": day_between(0, 90, "结束日期"),
     "ask": "预计哪天结束居家办公？例如：下周五、5月29日、2022-05-29"},
    {"name": "reported", "slot": "reported", "parse": yes_no("已报到", "还没有"),
     "ask": "您已经向居住地社区报到了吗？回复 1 已报到，回复 2 还没有"},
    {"name": "confirm", "slot": "confirmed", "parse": yes_no(), "ask": ask_confirm},
    {"name": "registered", "final": True, "on_enter": [register], "ask": ask_registered},
    # daily check-in
    {"name": "temperature", "slot": "temperature", "parse": temperature_or_action, "ask": ask_temperature},
    {"name": "symptoms", "slot": "symptoms", "parse": symptoms,
     "ask": "今天有以下症状吗？可多选，用空格隔开：\n1 咳嗽\n2 发热\n3 乏力\n4 腹泻\n5 咽痛\n6 无\n例如：6（没有症状），或 1 3"},
    {"name": "test_result", "slot": "test_result", "parse": latest_test,
     "ask": "最近一次核酸检测结果？回复序号：\n1 阴性\n2 阳性\n3 未检测"},
    {"name": "test_date", "slot": "test_date", "parse": day_between(60, 0, "检测日期"),
     "ask": "最近一次核酸是哪天做的？例如：今天、昨天、5月22日"},
    {"name": "whereabouts", "slot": "whereabouts", "accepts_location": True,
     "parse": free_text(max_len=256, example="全天在家，未外出"),
     "ask": "今天去过哪里？例如：全天在家，未外出；也可以点「+」发送「位置」"},
    {"name": "checked_in", "final": True, "on_enter": [check_in], "ask": ask_checked_in},
    # end or extend the period
    {"name": "end_confirm", "slot": "end_confirmed", "parse": yes_no("确认结束", "不结束"), "ask": ask_end},
    {"name": "ended", "final": True, "on_enter": [finish_period],
     "ask": "已结束居家办公报备，不用再每天打卡了。返岗后请继续做好个人防护。"},
    {"name": "new_end", "slot": "new_end", "parse": day_between(0, 90, "新的结束日期"), "ask": ask_new_end},
    {"name": "extended", "final": True, "on_enter": [extend_period], "ask": ask_extended},
    {"name": "lapsed", "slot": "lapsed_choice", "parse": choice(["延长居家办公", "结束居家办公"]), "ask": ask_lapsed},
]

TRANSITIONS = [
    # trigger   source         dest
    {"trigger": "answer", "source": "consent", "dest": "employer", "conditions": consented, "after": grant},
    {"trigger": "answer", "source": "consent", "dest": "declined", "unless": consented},
    ["answer", "employer", "community"],
    ["answer", "community", "address"],
    ["answer", "address", "start_date"],
    ["answer", "start_date", "end_date"],
    {"trigger": "answer", "source": "end_date", "dest": "reported", "conditions": ends_after_start},
    {"trigger": "answer", "source": "end_date", "dest": "end_date", "unless": ends_after_start,
     "after": reject_end},
    ["answer", "reported", "confirm"],
    {"trigger": "answer", "source": "confirm", "dest": "registered", "conditions": confirmed},
    {"trigger": "answer", "source": "confirm", "dest": "employer", "unless": confirmed},

    {"trigger": "answer", "source": "temperature", "dest": "symptoms", "conditions": measured},
    {"trigger": "answer", "source": "temperature", "dest": "new_end", "conditions": wants("extend")},
    {"trigger": "answer", "source": "temperature", "dest": "end_confirm", "conditions": wants("end")},
    ["answer", "symptoms", "test_result"],
    {"trigger": "answer", "source": "test_result", "dest": "whereabouts", "conditions": untested},
    {"trigger": "answer", "source": "test_result", "dest": "test_date", "unless": untested},
    ["answer", "test_date", "whereabouts"],
    ["answer", "whereabouts", "checked_in"],

    {"trigger": "answer", "source": "end_confirm", "dest": "ended", "conditions": confirmed_end},
    {"trigger": "answer", "source": "end_confirm", "dest": "temperature", "unless": confirmed_end},
    {"trigger": "answer", "source": "new_end", "dest": "extended", "conditions": extends_period},
    {"trigger": "answer", "source": "new_end", "dest": "new_end", "unless": extends_period,
     "after": reject_extension},
    {"trigger": "answer", "source": "lapsed", "dest": "new_end", "conditions": lapsed_extend},
    {"trigger": "answer", "source": "lapsed", "dest": "ended", "unless": lapsed_extend},

    ["back", "community", "employer"],
    ["back", "address", "community"],
    ["back", "start_date", "address"],
    ["back", "end_date", "start_date"],
    ["back", "reported", "end_date"],
    ["back", "confirm", "reported"],
    ["back", "symptoms", "temperature"],
    ["back", "test_result", "symptoms"],
    ["back", "test_date", "test_result"],
    {"trigger": "back", "source": "whereabouts", "dest": "test_result", "conditions": untested},
    {"trigger": "back", "source": "whereabouts", "dest": "test_date", "unless": untested},
    ["back", "end_confirm", "temperature"],
    {"trigger": "back", "source": "new_end", "dest": "lapsed", "conditions": came_from_lapsed},
    {"trigger": "back", "source": "new_end", "dest": "temperature", "unless": came_from_lapsed},
]
