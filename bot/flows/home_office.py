"""居家办公报备 – register a home-office period (the daily check-in is bot/flows/checkin.py).

consent → employer → community → address → start_date → end_date → reported → confirm → registered.
Health data and whereabouts are sensitive personal information (PIPL art. 28): the notice says
what is kept, how long and who sees it, and nothing is stored without 同意 (a worker who consented
before starts at `employer`). Declining shows the rules (FAQ home_office.rules) only. A check that
needs two answers (end ≥ start) is a conditional transition back to the same step with a note,
because a parser only sees one answer. Which of the two home-office flows a worker enters is the
target flow.home_office's decision (bot/targets/core.py).
"""
from __future__ import annotations

from datetime import date, timedelta

from bot.clock import local_now
from bot.flows.engine import Flow
from bot.flows.steps import Invalid, free_text, parse_date_phrase, span, yes_no
from bot.services import home_office as service

NAME = "home_office"  # routing target: flow.home_office
TITLE = "居家办公报备"
RULES_FALLBACK = ("居家办公期间请做到：\n1. 向居住地社区（村）报到，服从社区管理；\n2. 做好健康监测，按要求参加核酸检测；\n"
                  "3. 非必要不外出，不聚会、不串门、不出游、不扎堆。")
CONSENT = (
    "居家办公报备和每日健康打卡要收集您的健康信息和行踪，属于敏感个人信息，需要您单独同意：\n"
    "· 保存什么：工作单位、居住社区和地址、居家起止日期，以及每天的体温、症状、核酸结果和行程；\n"
    f"· 保存多久：居家办公结束后{service.KEEP_DAYS}天，到期删除；\n"
    "· 谁能看到：只有工会负责居家办公服务的工作人员，用于了解您的情况、在打卡异常时联系您，不提供给其他单位或个人。\n"
    "如需查询、更正或删除您的信息，可回复「转人工」。\n"
    "回复 1 同意，回复 2 不同意（不同意也可以查看居家办公要求）")


def today() -> date:
    return local_now().date()


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
    paragraphs = "\n\n".join(pages).split("\n\n")
    if registered and len(paragraphs) > 1 and "回复「" in paragraphs[-1]:
        paragraphs.pop()
    return "\n\n".join(paragraphs)


# -- parsers ------------------------------------------------------------------------------
def examples(past: int, future: int) -> str:
    """Date answers this step accepts today: 今天、明天、6月1日 (never one outside its range)."""
    now = today()
    words = [w for w, offset in (("今天", 0), ("明天", 1), ("昨天", -1)) if -past <= offset <= future][:2]
    offset = min(future, 7) if future >= 2 else -min(past, 3)
    return "、".join([*words, span(now + timedelta(days=offset))])


def day_between(past: int, future: int, what: str):
    """A date phrase within [today - past, today + future], stored as ISO text."""

    def parse(text: str) -> str:
        now = today()
        try:
            day = parse_date_phrase(text, now)
        except Invalid:
            raise Invalid(f"请输入{what}，例如：{examples(past, future)}") from None
        earliest, latest = now - timedelta(days=past), now + timedelta(days=future)
        if not earliest <= day <= latest:
            raise Invalid(f"{what}要在{span(earliest, latest)}之间，例如：{examples(past, future)}", unclear=False)
        return day.isoformat()

    return parse


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
    start = date.fromisoformat(run.slots["start_date"])
    run.notes.append(f"结束日期不能早于开始日期（{span(start)}），请重新输入。")
    run.slots = {k: v for k, v in run.slots.items() if k != "end_date"}


def register(event):
    s, run = event.model.slots, event.model
    service.register(run.session, run.worker, employer=s["employer"], community=s["community"],
                     address=s["address"], start_date=date.fromisoformat(s["start_date"]),
                     end_date=date.fromisoformat(s["end_date"]), reported_to_community=s["reported"])


def entry(run) -> str:
    return "employer" if service.has_consent(run.session, run.worker) else "consent"


# -- prompts that depend on several slots ------------------------------------------------------
def period(s: dict) -> str:
    return span(date.fromisoformat(s["start_date"]), date.fromisoformat(s["end_date"]), joiner=" 至 ")


def ask_end_date(run) -> str:
    start = date.fromisoformat(run.slots["start_date"])
    return f"预计哪天结束居家办公？例如：{span(max(start, today()) + timedelta(days=14))}"


def ask_confirm(run) -> str:
    s = run.slots
    return (f"请确认报备信息：\n工作单位：{s['employer']}\n居住社区：{s['community']}\n居住地址：{s['address']}\n"
            f"居家时间：{period(s)}\n社区报到：{'已报到' if s['reported'] else '还没有'}\n回复 1 提交，回复 2 修改")


def ask_registered(run) -> str:
    s = run.slots
    report = "" if s["reported"] else "\n请尽快向居住地社区报到。"
    return (f"报备成功！居家办公时间：{period(s)}。{report}\n"
            f"居家期间请每天回复「打卡」完成健康打卡。\n\n{rules(registered=True)}")


FLOW = Flow(
    name=NAME, title=TITLE, entry=entry,
    states=[
        {"name": "consent", "title": "同意告知", "slot": "consent", "parse": yes_no("同意", "不同意"), "ask": CONSENT},
        {"name": "declined", "title": "不同意", "final": True,
         "ask": lambda run: "好的，没有保存您的任何信息。以下是居家办公要遵守的要求：\n\n" + rules()},
        {"name": "employer", "title": "工作单位", "slot": "employer", "free_text": True,
         "parse": free_text(max_len=128, example="北京市某某科技有限公司"),
         "ask": "请输入您的工作单位全称，例如：北京市某某科技有限公司"},
        {"name": "community", "title": "居住社区", "slot": "community", "free_text": True,
         "parse": free_text(max_len=128, example="朝阳区望京街道花家地社区"),
         "ask": "请输入您居住地所在的街道和社区，例如：朝阳区望京街道花家地社区"},
        {"name": "address", "title": "居住地址", "slot": "address", "free_text": True,
         "parse": free_text(max_len=256, example="花家地西里3号楼2单元501"),
         "ask": "请输入居住地址（写到门牌号），例如：花家地西里3号楼2单元501"},
        {"name": "start_date", "title": "开始日期", "slot": "start_date", "parse": day_between(30, 30, "开始日期"),
         "ask": lambda run: f"从哪天开始居家办公？例如：{examples(30, 30)}"},
        {"name": "end_date", "title": "结束日期", "slot": "end_date", "parse": day_between(0, 90, "结束日期"),
         "ask": ask_end_date},
        {"name": "reported", "title": "社区报到", "slot": "reported", "parse": yes_no("已报到", "还没有"),
         "ask": "您已经向居住地社区报到了吗？回复 1 已报到，回复 2 还没有"},
        {"name": "confirm", "title": "确认", "slot": "confirmed", "parse": yes_no(), "ask": ask_confirm},
        {"name": "registered", "title": "报备成功", "final": True, "on_enter": [register], "ask": ask_registered},
    ],
    transitions=[
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
        ["back", "community", "employer"],
        ["back", "address", "community"],
        ["back", "start_date", "address"],
        ["back", "end_date", "start_date"],
        ["back", "reported", "end_date"],
        ["back", "confirm", "reported"],
    ],
)
