"""每日健康打卡 – the daily check-in of a worker with an active home-office registration.

temperature → symptoms → test_result → [test_date unless 未检测] → whereabouts → checked_in.
Every reading is kept (a second check-in the same day is a second reading; the day shows the
worst), and a flagged one alerts staff at once. The first question also takes 「延长」/「结束」
(the prompt says so), so the daily path costs no extra step: 结束 → end_confirm → ended;
延长 → new_end → extended. A period whose end date has passed starts at `lapsed`.
"""
from __future__ import annotations

import math
import re
from datetime import date, timedelta

from bot.clock import local_now
from bot.flows.engine import Flow
from bot.flows.steps import Invalid, choice, free_text, number, simple, slot_is, span, temperature, yes_no
from bot.flows.home_office import day_between, examples
from bot.services import home_office as service

NAME = "checkin"  # entered through the target flow.home_office when a period is active
TITLE = "每日健康打卡"
SYMPTOMS = ["咳嗽", "发热", "乏力", "腹泻", "咽痛", "无", "其他"]
NONE, OTHER = "无", "其他"
# Everyday words for the listed symptoms; anything else the worker writes is kept as 其他：….
SYMPTOM_WORDS = {
    "咳嗽": ["咳嗽", "咳", "干咳"],
    "发热": ["发热", "发烧", "烧", "体温高", "低烧", "高烧"],
    "乏力": ["乏力", "没劲", "没力气", "浑身无力", "无力", "疲劳", "累"],
    "腹泻": ["腹泻", "拉肚子", "拉稀", "闹肚子"],
    "咽痛": ["咽痛", "嗓子", "喉咙", "咽喉"],
}
NO_SYMPTOM_WORDS = {"无", "没有", "没", "无症状", "都没有", "没有症状", "正常", "无异常", "都没", "挺好", "很好"}
TEST_RESULTS = ["阴性", "阳性", "未检测"]
UNTESTED = "未检测"
ACTIONS = {"延长": "extend", "延长居家办公": "extend", "延期": "extend", "延长居家": "extend",
           "结束": "end", "结束居家办公": "end", "结束居家": "end", "结束报备": "end", "结束居家办公报备": "end"}
FLAGGED_ADVICE = ("⚠ 您今天的打卡有异常（{reasons}），请：\n1. 立即向居住地社区报告；\n2. 留在家中，不要外出，等待社区安排；\n"
                  "3. 需要健康咨询请拨打 12320 卫生健康热线，情况紧急请拨打 120。\n工会工作人员已收到提醒，会尽快联系您。")
NO_PERIOD = "您目前没有进行中的居家办公报备。回复「取消」结束，再回复「居家办公报备」重新报备。"
MAX_SYMPTOM_TEXT = 60


def today() -> date:
    return local_now().date()


# -- parsers ------------------------------------------------------------------------------
def temperature_or_action(text: str) -> float | str:
    """The check-in's first answer: a temperature, or 延长 / 结束 the home-office period."""
    return ACTIONS.get(simple(text).removeprefix("我要").removeprefix("申请")) or temperature(text)


def symptoms(text: str) -> list[str]:
    """Numbers (1 3), the options' names, or everyday words (发烧，嗓子疼) mapped to the options;
    words for anything else are kept as 其他：…. 没有 / 无症状 / 正常 mean 无."""
    t = simple(text)
    if len(t) > MAX_SYMPTOM_TEXT:
        raise Invalid(f"请简短一些（{MAX_SYMPTOM_TEXT}字以内），例如：发烧 嗓子疼", unclear=False)
    if t in NO_SYMPTOM_WORDS:
        return [NONE]
    picked: list[str] = []
    for part in filter(None, re.split(r"[\s,，、;；。.和及/]+|还有|也有", t)):
        found = _symptoms_in(part)
        if found is None:
            picked = []
            break
        picked += found
    picked = list(dict.fromkeys(picked))
    if not picked or (NONE in picked and len(picked) > 1):
        listing = "、".join(f"{i} {o}" for i, o in enumerate(SYMPTOMS, 1))
        raise Invalid(f"请回复序号，可多选，用空格隔开：{listing}。也可以直接写症状，例如：发烧 嗓子疼；没有症状回复 6")
    return picked


def _symptoms_in(part: str) -> list[str] | None:
    """The options one word or number stands for; None for a number that is no option."""
    listed = SYMPTOMS[:-1]  # 7 其他 is a hint to write the words, not an answer by itself
    if part.isdecimal() and len(part) > 1:  # "13" for 1 and 3
        return [listed[int(c) - 1] for c in part] if all("1" <= c <= str(len(listed)) for c in part) else None
    n = number(part)
    if n is not None:
        return [listed[n - 1]] if 1 <= n <= len(listed) else None
    if part in NO_SYMPTOM_WORDS:
        return [NONE]
    found = [name for name, words in SYMPTOM_WORDS.items() if any(w in part for w in words)]
    if found:
        return found
    if part.isdecimal() or not any("\u4e00" <= c <= "\u9fff" or c.isalpha() for c in part):
        return []  # a number that is not an option, or only symbols: not a symptom
    return [f"{OTHER}：{part.removeprefix('有点').removeprefix('有些').removeprefix('有')}"]


def latest_test(text: str) -> str:
    """阴性 / 阳性 / 未检测 by number or word; 没做 / 没测 mean 未检测."""
    if simple(text) in {"没做", "没测", "没有做", "没有测", "没检测", "未做", "没有"}:
        return UNTESTED
    return _pick_result(text)


_pick_result = choice(TEST_RESULTS)


# -- predicates and callbacks ----------------------------------------------------------------
def wants(action):
    return slot_is("temperature", action)


def measured(event):
    value = event.model.slots.get("temperature")
    return isinstance(value, (int, float)) and math.isfinite(value)


def untested(event):
    return event.model.slots.get("test_result") == UNTESTED


def check_in(event):
    run = event.model
    if run.slots["test_result"] == UNTESTED:  # a date answered before going back and choosing 未检测
        run.slots = {k: v for k, v in run.slots.items() if k != "test_date"}
    s = run.slots
    place = s["whereabouts"]
    location = coordinates(place) if isinstance(place, dict) else None
    reading, day = service.record_checkin(
        run.session, run.worker, today(), temperature=s["temperature"], symptoms=s["symptoms"],
        test_result=s["test_result"], test_date=date.fromisoformat(s["test_date"]) if s.get("test_date") else None,
        whereabouts=location["label"] if location else place, location=location)
    worst = day.worst
    run.slots = {**s, "readings": day.count, "flags": service.flags(reading.temperature, reading.symptoms,
                                                                    reading.test_result),
                 "worst": None if worst is reading else service.flags(worst.temperature, worst.symptoms,
                                                                       worst.test_result)}


def coordinates(place: dict) -> dict:
    """A location message's value, with lat / lng as finite numbers or None (WeChat sends text)."""
    def number_or_none(value):
        try:
            value = float(value)
        except (TypeError, ValueError, OverflowError):
            return None
        return value if math.isfinite(value) else None

    return {"label": str(place.get("label") or "")[:256], "lat": number_or_none(place.get("lat")),
            "lng": number_or_none(place.get("lng"))}


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
        run.notes.append(f"延长后的日期要晚于目前的结束日期（{span(registration.end_date)}），请重新输入。")


def extend_period(event):
    run = event.model
    service.extend(service.active_registration(run.session, run.worker), date.fromisoformat(run.slots["new_end"]))


def came_from_lapsed(event):
    return "lapsed_choice" in event.model.slots


def lapsed_extend(event):
    return event.model.slots.get("lapsed_choice") == "延长居家办公"


def entry(run) -> str:
    registration = service.active_registration(run.session, run.worker)
    return "lapsed" if registration is not None and registration.end_date < today() else "temperature"


# -- prompts that depend on the database or on several slots --------------------------------
def ask_temperature(run) -> str:
    registration = service.active_registration(run.session, run.worker)
    period = f"（居家办公 {span(registration.start_date, registration.end_date, '–')}）" if registration else ""
    done = service.checkins_of(run.session, run.worker, today())
    again = f"\n今天已经打过{len(done)}次卡，这次会另记一条，每次都会保存。" if done else ""
    return (f"今天（{span(today())}）的健康打卡{period}{again}\n请输入您的体温（℃），例如：36.5\n"
            "要延长或结束居家办公，请回复「延长」或「结束」。")


def ask_checked_in(run) -> str:
    s = run.slots
    test = s["test_result"] + (f"（{span(date.fromisoformat(s['test_date']))}）" if s.get("test_date") else "")
    place = s["whereabouts"]["label"] if isinstance(s["whereabouts"], dict) else s["whereabouts"]
    head = (f"已记下今天的第{s['readings']}次打卡（{span(today())}）。" if s.get("readings", 1) > 1
            else f"打卡成功（{span(today())}）！")
    summary = (f"{head}\n体温：{s['temperature']:.1f}℃\n症状：{'、'.join(s['symptoms'])}\n"
               f"核酸：{test}\n行程：{place}")
    if s.get("flags"):
        return summary + "\n\n" + FLAGGED_ADVICE.format(reasons="，".join(s["flags"]))
    if s.get("worst"):
        return (summary + f"\n今天较早的一次打卡有异常（{'，'.join(s['worst'])}），仍按异常记录，"
                "工会工作人员会联系您。")
    return summary + "\n明天记得继续打卡。"


def ask_end(run) -> str:
    registration = service.active_registration(run.session, run.worker)
    if registration is None:
        return NO_PERIOD
    return (f"确认结束居家办公吗？（报备时间：{span(registration.start_date, registration.end_date, ' 至 ')}）\n"
            "结束后不用再每天打卡。回复 1 确认结束，回复 2 不结束")


def ask_new_end(run) -> str:
    registration = service.active_registration(run.session, run.worker)
    if registration is None:
        return NO_PERIOD
    later = max(registration.end_date, today()) + timedelta(days=7)
    return f"目前报备到{span(registration.end_date)}。要延长到哪天？例如：{span(later)}"


def ask_extended(run) -> str:
    return f"已延长居家办公至{span(date.fromisoformat(run.slots['new_end']))}。居家期间请继续每天回复「打卡」。"


def ask_lapsed(run) -> str:
    registration = service.active_registration(run.session, run.worker)
    if registration is None:
        return NO_PERIOD
    return (f"您报备的居家办公已于{span(registration.end_date)}到期。\n"
            "回复 1 延长居家办公\n回复 2 结束居家办公")


FLOW = Flow(
    name=NAME, title=TITLE, entry=entry,
    states=[
        {"name": "temperature", "title": "体温", "slot": "temperature", "parse": temperature_or_action,
         "ask": ask_temperature},
        {"name": "symptoms", "title": "症状", "slot": "symptoms", "parse": symptoms,
         "ask": "今天有以下症状吗？可多选，用空格隔开：\n1 咳嗽\n2 发热\n3 乏力\n4 腹泻\n5 咽痛\n6 无\n7 其他（直接写出来）\n"
                "例如：6（没有症状）、1 3，或直接写：嗓子疼"},
        {"name": "test_result", "title": "核酸结果", "slot": "test_result", "parse": latest_test,
         "ask": "最近一次核酸检测结果？回复序号：\n1 阴性\n2 阳性\n3 未检测"},
        {"name": "test_date", "title": "检测日期", "slot": "test_date", "parse": day_between(60, 0, "检测日期"),
         "ask": lambda run: f"最近一次核酸是哪天做的？例如：{examples(60, 0)}"},
        {"name": "whereabouts", "title": "当天行程", "slot": "whereabouts", "accepts_location": True,
         "free_text": True, "parse": free_text(max_len=256, example="全天在家，未外出"),
         "ask": "今天去过哪里？例如：全天在家，未外出；也可以点「+」发送「位置」"},
        {"name": "checked_in", "title": "打卡成功", "final": True, "on_enter": [check_in], "ask": ask_checked_in},
        {"name": "end_confirm", "title": "确认结束", "slot": "end_confirmed", "parse": yes_no("确认结束", "不结束"),
         "ask": ask_end},
        {"name": "ended", "title": "已结束", "final": True, "on_enter": [finish_period],
         "ask": "已结束居家办公报备，不用再每天打卡了。返岗后请继续做好个人防护。"},
        {"name": "new_end", "title": "新的结束日期", "slot": "new_end", "parse": day_between(0, 90, "新的结束日期"),
         "ask": ask_new_end},
        {"name": "extended", "title": "已延长", "final": True, "on_enter": [extend_period], "ask": ask_extended},
        {"name": "lapsed", "title": "报备到期", "slot": "lapsed_choice",
         "parse": choice(["延长居家办公", "结束居家办公"]), "ask": ask_lapsed},
    ],
    transitions=[
        # trigger   source         dest
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
        ["back", "symptoms", "temperature"],
        ["back", "test_result", "symptoms"],
        ["back", "test_date", "test_result"],
        {"trigger": "back", "source": "whereabouts", "dest": "test_result", "conditions": untested},
        {"trigger": "back", "source": "whereabouts", "dest": "test_date", "unless": untested},
        ["back", "end_confirm", "temperature"],
        {"trigger": "back", "source": "new_end", "dest": "lapsed", "conditions": came_from_lapsed},
        {"trigger": "back", "source": "new_end", "dest": "temperature", "unless": came_from_lapsed},
    ],
)
