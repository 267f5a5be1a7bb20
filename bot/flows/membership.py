"""入会申请 – apply to join the union.

consent → name → id → phone → employer → has_union → district → industry → confirm → submitted.
Consent comes first and nothing is kept if the worker declines. At `confirm`, as in every flow,
1 submits and 2 changes something: `edit` lists the fields by number, and after changing one the
worker comes straight back to `confirm`. A worker with a pending application enters at `pending`
instead (shown the status, may withdraw); an approved one is refused. Districts, industries and
routes come from config/membership.yaml. The application's wording for workers (status, the
duplicate notice) lives here too; bot/services/membership.py speaks only the domain.
"""
from bot.clock import LOCAL_TZ, aware
from bot.flows.engine import Flow
from bot.flows.steps import Invalid, choice, clean, free_text, id_card, number, phone, simple, slot_is, yes_no
from bot.services import membership

NAME = "membership"  # routing target: flow.membership
TITLE = "入会申请"
NOTICE_VERSION = "1"

NOTICE = ("办理入会申请前，请了解我们如何使用您的信息：\n"
          "· 收集：姓名、身份证号、手机号、工作单位、工作地区和行业。\n"
          "· 用途：仅用于审核入会、登记会籍和联系您。\n"
          "· 谁能看到：负责审核的工会工作人员；身份证号加密保存，其他地方只显示部分号码。\n"
          "· 保存多久：会籍存续期间；申请撤回或未通过的，处理完毕后6个月内删除。\n"
          "您同意后才会开始填写。回复 1 同意，回复 2 不同意")
# (state, label) in the order of the confirmation; the worker replies a position to change that field
FIELDS = [("name", "姓名"), ("id", "身份证号"), ("phone", "手机号"), ("employer", "工作单位"),
          ("has_union", "单位工会"), ("district", "工作地区"), ("industry", "行业")]
UNION_ANSWERS = {"yes": "有", "no": "没有", "unsure": "不清楚"}
UNION_WORDS = {
    "yes": {"有", "有的", "有工会", "是", "是的", "已建", "建了"},
    "no": {"没有", "没", "无", "没有工会", "没工会", "没建", "不是"},
    "unsure": {"不清楚", "不知道", "不确定", "不晓得", "不了解", "说不清"},
}
ROUTE_NOTES = {
    "yes": "申请将由{routed}审核。",
    "no": "您的单位还没有工会，申请将转到{routed}办理。",
    "unsure": "工作人员会先核实您的单位是否建了工会，申请由{routed}审核。",
}
SUBMIT_WORDS = {"1", "提交", "确认", "确定", "确认提交", "提交申请", "没问题", "无误", "对", "是", "好", "好的", "ok"}
EDIT_WORDS = {"2", "修改", "改", "修改信息", "我要修改", "有误", "不对", "改一下"}
WITHDRAW_WORDS = {"1", "撤回", "撤回申请", "撤销", "撤销申请", "确认撤回", "取消申请"}
KEEP_WORDS = {"2", "保留", "保留申请", "不撤回", "不用", "继续等", "等待审核"}


WITHDRAW_HINT = "\n如需撤回申请：回复「入会」（或点菜单「入会申请」），再回复 1 撤回。"
NO_APPLICATION = "您还没有提交入会申请。回复「入会」即可开始申请。"
STATUS = {
    "pending": ("您的入会申请正在审核中（{day}提交，由{routed_to}办理）。\n"
                "姓名：{name}，身份证号：{masked}\n审核结果会通过本公众号通知您。"),
    "approved": "您的入会申请已于{decided}通过，欢迎加入工会！会员证由{routed_to}为您办理。",
    "rejected": ("您的入会申请未通过。原因：{reason}\n"
                 "您可以修改信息后重新申请：回复「入会」。有疑问请回复「转人工」。"),
    "withdrawn": "您已撤回入会申请，信息不再审核。需要时回复「入会」重新申请。",
}
DUPLICATE_ID = ("这个身份证号已经提交过入会申请（当前状态：{label}），不能重复提交。\n"
                "如果不是您本人提交的，请回复「转人工」，工作人员会帮您核实。")


def _day(value) -> str:
    local = aware(value).astimezone(LOCAL_TZ)
    return f"{local.year}年{local.month}月{local.day}日"


def describe(application) -> str:
    """The application's status in the worker's words."""
    return STATUS[application.status].format(
        day=_day(application.updated_at or application.created_at), routed_to=application.routed_to or "工会",
        name=application.name, masked=application.id_number_masked,
        decided=_day(application.decided_at) if application.decided_at else "",
        reason=application.reject_reason or "（未注明）")


def status_text(session, worker) -> str:
    """The worker's own application (union.application_status, menu 我的入会进度), with what they can do."""
    application = membership.of_worker(session, worker)
    if application is None:
        return NO_APPLICATION
    return describe(application) + (WITHDRAW_HINT if application.status == "pending" else "")


# -- parsers -------------------------------------------------------------------------------
def person_name(text: str) -> str:
    t = clean(text).replace(" ", "")
    for prefix in ("我叫", "我是", "姓名是", "姓名:", "姓名"):
        t = t.removeprefix(prefix)
    letters = t.replace("·", "").replace("•", "")
    if len(t) > 20:
        raise Invalid("姓名最多20个字，请输入与身份证一致的姓名，例如：张三", unclear=False)
    if not 2 <= len(t) or not letters.isalpha():
        raise Invalid("请输入您的真实姓名（与身份证一致，只写名字），例如：张三")
    return t


def id_number(text: str) -> dict:
    """A valid ID number, returned already encrypted / hashed / masked: the raw one is never kept.

    "我的身份证是 1101…" works too: the one ID-like run in the text is taken.
    """
    found = membership.ID_LIKE.findall(clean(text))
    return membership.protect_id(id_card(found[0] if len(found) == 1 else text))


def union_answer(text: str) -> str:
    t, n = simple(text), number(text)
    for i, (key, words) in enumerate(UNION_WORDS.items(), 1):
        if n == i or t in words:
            return key
    raise Invalid("请回复序号：1 有，2 没有，3 不清楚。例如回复 2")


def from_options(key: str):
    """A numbered choice among a list from the options file (read when the worker answers)."""
    def parse(text: str) -> str:
        return choice(membership.options()[key])(text)

    return parse


def review(text: str) -> str:
    """At the confirmation: "submit" (1 / 提交), "edit" (2 / 修改), or a field named outright (改手机号)."""
    t = simple(text).lower()
    if t in SUBMIT_WORDS or number(t) == 1:
        return "submit"
    if t in EDIT_WORDS or number(t) == 2:
        return "edit"
    named = [state for state, label in FIELDS if t and label in t]
    if len(named) == 1:
        return named[0]
    raise Invalid("信息无误请回复 1 提交；要修改请回复 2，或直接说要改哪一项，例如：改手机号")


def field_to_change(text: str) -> str:
    """In `edit`: the number or the name of the field to change."""
    t = simple(text).lower().removeprefix("修改").removeprefix("改")
    n = number(t)
    if n is not None and 1 <= n <= len(FIELDS):
        return FIELDS[n - 1][0]
    named = [state for state, label in FIELDS if t and (label in t or t in label)]
    if len(named) == 1:
        return named[0]
    raise Invalid(f"请回复要修改的那一项的序号（1–{len(FIELDS)}），例如回复 3 修改手机号")


def withdraw_answer(text: str) -> bool:
    t = simple(text)
    if t in WITHDRAW_WORDS or number(t) == 1:
        return True
    if t in KEEP_WORDS or number(t) == 2:
        return False
    raise Invalid("请回复 1 撤回申请，或回复 2 保留申请")


# -- entry ---------------------------------------------------------------------------------
def refuse(run):
    application = membership.of_worker(run.session, run.worker)
    if application is not None and application.status == "approved":
        return "您已经是工会会员了，不需要再次申请。\n" + status_text(run.session, run.worker)
    return None


def entry(run):
    application = membership.of_worker(run.session, run.worker)
    return "pending" if application is not None and application.status == "pending" else "consent"


# -- conditions and callbacks --------------------------------------------------------------
def agreed(event):
    return event.model.slots.get("consent") is True


def editing(event):
    """True while the worker changes one field from the confirmation (then go back there)."""
    return event.model.slots.get("action") not in (None, "submit", "edit")


def wants(state):
    return slot_is("action", state)


def id_taken(event):
    """Another worker's application already uses this ID number (or this worker's is active)."""
    run = event.model
    return membership.conflict(run.session, run.worker, run.slots["id"]["hash"]) is not None


def withdrawing(event):
    return event.model.slots.get("withdraw") is True


def record_consent(event):
    membership.grant_consent(event.model.session, event.model.worker, NOTICE_VERSION)


def submit(event):
    run = event.model
    application = membership.submit(run.session, run.worker, run.slots)
    run.slots = {**run.slots, "application_id": application.id, "routed_to": application.routed_to}


def withdraw(event):
    membership.withdraw(event.model.session, membership.of_worker(event.model.session, event.model.worker))


# -- prompts -------------------------------------------------------------------------------
def listing(key: str, question: str):
    def ask(run) -> str:
        items = membership.options()[key]
        lines = "\n".join(f"{i} {item}" for i, item in enumerate(items, 1))
        return f"{question}回复序号：\n{lines}\n例如回复 1"

    return ask


def ask_consent(run) -> str:
    application = membership.of_worker(run.session, run.worker)
    if application is not None and application.status == "rejected":
        return (f"您上次的入会申请未通过，原因：{application.reject_reason or '（未注明）'}\n"
                f"可以修改信息后重新申请。\n\n{NOTICE}")
    return NOTICE


def route_note(slots: dict) -> str:
    routed = membership.route_for(slots["has_union"], slots["district"])
    return ROUTE_NOTES[slots["has_union"]].format(routed=routed)


def summary(run) -> str:
    s = run.slots
    values = {"name": s["name"], "id": s["id"]["masked"], "phone": s["phone"], "employer": s["employer"],
              "has_union": UNION_ANSWERS[s["has_union"]], "district": s["district"], "industry": s["industry"]}
    lines = "\n".join(f"{i} {label}：{values[state]}" for i, (state, label) in enumerate(FIELDS, 1))
    return (f"请核对您的入会申请：\n{lines}\n{route_note(s)}\n"
            "回复 1 提交，回复 2 修改")


def ask_field(run) -> str:
    lines = "\n".join(f"{i} {label}" for i, (_, label) in enumerate(FIELDS, 1))
    return f"要修改哪一项？回复序号：\n{lines}\n例如回复 3 修改手机号"


def ask_pending(run) -> str:
    application = membership.of_worker(run.session, run.worker)
    return ("您已经提交过入会申请，不能重复申请。\n" + describe(application)
            + "\n\n要撤回这份申请吗？回复 1 撤回申请，回复 2 保留申请")


def ask_duplicate(run) -> str:
    application = membership.conflict(run.session, run.worker, run.slots["id"]["hash"])
    return DUPLICATE_ID.format(label=membership.STATUS_LABELS[application.status])


ORDER = [state for state, _ in FIELDS]

FLOW = Flow(
    name=NAME, title=TITLE, entry=entry, refuse=refuse,
    states=[
        {"name": "consent", "title": "同意告知", "slot": "consent", "parse": yes_no(yes="同意", no="不同意"),
         "ask": ask_consent},
        {"name": "declined", "title": "不同意", "final": True,
         "ask": "好的，您没有同意，我们没有保存任何信息。以后想申请，随时回复「入会」。"},
        {"name": "name", "title": "姓名", "slot": "name", "parse": person_name, "free_text": True,
         "ask": "请输入您的姓名（与身份证一致），例如：张三"},
        {"name": "id", "title": "身份证号", "slot": "id", "parse": id_number,
         "ask": "请输入18位身份证号，例如：11010519491231002X\n（加密保存，之后只显示部分号码）"},
        {"name": "phone", "title": "手机号", "slot": "phone", "parse": phone,
         "ask": "请输入您的手机号，例如：13812345678"},
        {"name": "employer", "title": "工作单位", "slot": "employer", "free_text": True,
         "parse": free_text(max_len=60, example="北京顺达快递有限公司"),
         "ask": "请输入工作单位全称，例如：北京顺达快递有限公司\n（在平台接单的，填平台名称，例如：美团外卖）"},
        {"name": "has_union", "title": "单位工会", "slot": "has_union", "parse": union_answer,
         "ask": "您的单位有工会吗？回复序号：\n1 有\n2 没有\n3 不清楚\n例如回复 2"},
        {"name": "district", "title": "工作地区", "slot": "district", "parse": from_options("districts"),
         "ask": listing("districts", "您在哪个区工作？")},
        {"name": "industry", "title": "行业", "slot": "industry", "parse": from_options("industries"),
         "ask": listing("industries", "您从事哪个行业？")},
        {"name": "confirm", "title": "核对提交", "slot": "action", "parse": review, "ask": summary},
        {"name": "edit", "title": "选择修改项", "slot": "action", "parse": field_to_change, "ask": ask_field},
        {"name": "submitted", "title": "已提交", "final": True, "on_enter": [submit],
         "ask": "入会申请已提交（编号 {application_id}），由{routed_to}审核，结果会通过本公众号通知您。\n"
                "点菜单「我的入会进度」或回复「入会进度」可以随时查询。"},
        {"name": "duplicate", "title": "重复申请", "final": True, "ask": ask_duplicate},
        {"name": "pending", "title": "已有申请", "slot": "withdraw", "parse": withdraw_answer, "ask": ask_pending},
        {"name": "withdrawn", "title": "已撤回", "final": True, "on_enter": [withdraw],
         "ask": "已撤回您的入会申请。需要时回复「入会」可以重新申请。"},
        {"name": "kept", "title": "保留申请", "final": True, "ask": "好的，申请保留，审核结果会通过本公众号通知您。"},
    ],
    transitions=[
        # trigger   source      dest
        {"trigger": "answer", "source": "consent", "dest": "name", "conditions": agreed, "after": record_consent},
        {"trigger": "answer", "source": "consent", "dest": "declined", "unless": agreed},
        # Changing one field from the confirmation goes straight back to it (listed first: first match wins).
        {"trigger": "answer", "source": ORDER, "dest": "confirm", "conditions": editing},
        {"trigger": "back", "source": ORDER, "dest": "confirm", "conditions": editing},
        {"trigger": "answer", "source": "name", "dest": "id"},
        {"trigger": "answer", "source": "id", "dest": "duplicate", "conditions": id_taken},
        ["answer", "id", "phone"],
        ["answer", "phone", "employer"],
        ["answer", "employer", "has_union"],
        ["answer", "has_union", "district"],
        ["answer", "district", "industry"],
        ["answer", "industry", "confirm"],
        {"trigger": "answer", "source": "confirm", "dest": "duplicate", "conditions": [wants("submit"), id_taken]},
        {"trigger": "answer", "source": "confirm", "dest": "submitted", "conditions": wants("submit")},
        {"trigger": "answer", "source": "confirm", "dest": "edit", "conditions": wants("edit")},
        *({"trigger": "answer", "source": ["confirm", "edit"], "dest": state, "conditions": wants(state)}
          for state in ORDER),
        ["back", "edit", "confirm"],
        {"trigger": "answer", "source": "pending", "dest": "withdrawn", "conditions": withdrawing},
        {"trigger": "answer", "source": "pending", "dest": "kept", "unless": withdrawing},
        *([["back", later, earlier] for earlier, later in zip(ORDER, ORDER[1:])]),
        ["back", "confirm", "industry"],
    ],
)
