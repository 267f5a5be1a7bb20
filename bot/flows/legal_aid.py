"""法律援助预约 – book a seat in a consultation with a union lawyer.

topic → facts → slot → [reuse_phone | phone] → confirm → booked. The slot step offers the next
open consultation slots (bot.services.legal_aid); the seat is taken at confirm, inside the
transaction, and a slot that filled up meanwhile is offered again. A worker who gave a mobile
number before is asked whether to use it again. A worker holds at most LEGAL_AID_MAX_OPEN upcoming
bookings. What the worker is told fits the slot's mode: in person (bring your papers) or online
(staff call first). Global commands (取消, 返回, 转人工) and re-asking are handled by bot.dialog.
"""
from bot.flows.engine import Flow
from bot.flows.steps import Invalid, choice, free_text, number, phone, simple, yes_no
from bot.masking import mask_mobile
from bot.services import legal_aid

NAME = "legal_aid"  # routing target: flow.legal_aid
TITLE = "预约法律援助"

# Problem categories in plain words (the legal.* topics), and words that point to each.
CATEGORIES = {
    "欠薪/克扣工资": ["欠薪", "拖欠", "克扣", "扣工资", "扣钱", "讨薪", "不发工资", "少发", "没发工资"],
    "被辞退/解除合同": ["辞退", "开除", "解雇", "裁员", "炒鱿鱼", "赶走", "经济补偿", "赔偿金"],
    "工伤": ["工伤", "受伤", "摔伤", "职业病", "伤残"],
    "社保": ["社保", "五险", "保险", "公积金", "医保", "养老"],
    "加班/工时": ["加班", "工时", "休息日", "调休", "996"],
    "劳动合同/试用期": ["合同", "试用期", "转正"],
    "其他": ["其他", "其它", "别的"],
}
OPTIONS = list(CATEGORIES)
by_number_or_name = choice(OPTIONS)
PROBLEMS = {
    "full": "抱歉，您选的时段刚刚约满了，请换一个时段。",
    "duplicate": "您已经预约过这个时段了，请选择其他时段，或回复「我的预约」查看。",
    "gone": "抱歉，这个时段已经不能预约了，请换一个时段。",
}


def category(text: str) -> str:
    """1–7, a category's name, or words that clearly point to one (拖欠工资 → 欠薪/克扣工资)."""
    try:
        return by_number_or_name(text)
    except Invalid as exc:
        t = simple(text)
        hits = [name for name, words in CATEGORIES.items() if any(w in t for w in words)]
        if len(hits) == 1:
            return hits[0]
        raise exc


def listing(bookings) -> str:
    return "\n".join(f"{i}. {legal_aid.describe(b.slot)}（{b.topic}）" for i, b in enumerate(bookings, 1))


def refuse(run) -> str | None:
    """A worker may hold at most LEGAL_AID_MAX_OPEN upcoming bookings."""
    limit = int(run.config.get("LEGAL_AID_MAX_OPEN", 1))
    bookings = legal_aid.upcoming(run.session, run.worker)
    if len(bookings) < limit:
        return None
    return (f"您已经有{len(bookings)}个待参加的法律援助预约：\n{listing(bookings)}\n"
            f"每人同时最多预约{limit}个。需要改时间的话，请先回复「取消预约」取消原来的，再重新预约。")


def slot_number(text: str) -> int:
    n = number(text)
    if n is None or not 1 <= n <= legal_aid.OFFERED:
        raise Invalid("请回复时段前面的序号，例如：1。都不合适的话，回复「转人工」请工作人员安排")
    return n


# -- callbacks (event.model is bot.dialog.FlowRun) ---------------------------------------------

def offered(run) -> list[dict]:
    """The slots shown to the worker, remembered so that "2" means what they saw."""
    if "offered" not in run.slots:
        run.slots = {**run.slots, "offered": [{"id": s.id, "label": legal_aid.describe(s), "mode": s.mode}
                                              for s in legal_aid.open_slots(run.session, run.worker)]}
    return run.slots["offered"]


def offer(event):
    event.model.slots = {k: v for k, v in event.model.slots.items() if k != "offered"}
    offered(event.model)


def ask_slot(run) -> str:
    slots = offered(run)
    if not slots:
        return ("抱歉，近期的律师咨询时段都已约满。\n回复「转人工」，工作人员会根据您刚才描述的情况另行安排；"
                "回复「取消」结束预约。")
    listing = "\n".join(f"{i}. {s['label']}" for i, s in enumerate(slots, 1))
    return f"请选择咨询时段，回复序号，例如：1\n{listing}"


def listed(event):
    return 1 <= event.model.slots["slot_no"] <= len(offered(event.model))


def seat_free(event):
    return legal_aid.has_seat(event.model.session, offered(event.model)[event.model.slots["slot_no"] - 1]["id"])


def phone_known(event):
    return bool(event.model.slots.get("phone"))


def phone_on_file(event):
    """The worker left a mobile number before (and has not been asked about it in this booking)."""
    run = event.model
    if "phone_on_file" not in run.slots:
        run.slots = {**run.slots, "phone_on_file": legal_aid.phone_on_file(run.session, run.worker)}
    return bool(run.slots["phone_on_file"]) and "reuse_phone" not in run.slots


def reuses_phone(event):
    return event.model.slots.get("reuse_phone") is True


def take_phone_on_file(event):
    event.model.slots = {**event.model.slots, "phone": event.model.slots["phone_on_file"]}


def choose(event):
    picked = offered(event.model)[event.model.slots["slot_no"] - 1]
    event.model.slots = {**event.model.slots, "slot_id": picked["id"], "when": picked["label"],
                         "mode": picked.get("mode", "in_person")}


def not_available(event):
    if listed(event):
        event.model.notes.append(PROBLEMS["full"])
    else:
        event.model.notes.append(f"没有第 {event.model.slots['slot_no']} 个时段，请从下面选择。")


def confirmed(event):
    return event.model.slots.get("confirmed") is True


def forget(event):
    event.model.slots = {k: v for k, v in event.model.slots.items() if k == "phone_on_file" and v}


def reserve(event):
    """Take the seat now, in this message's transaction (re-checks capacity under a row lock)."""
    run, s = event.model, event.model.slots
    booking, problem = (legal_aid.reserve(run.session, run.worker, s["slot_id"], s["topic"], s["facts"], s["phone"])
                        if s.get("slot_id") else (None, "gone"))
    run.slots = {**s, "booking_id": booking.id if booking else None, "problem": problem}


def reserved(event):
    return bool(event.model.slots.get("booking_id"))


def seat_gone(event):
    event.model.notes.append(PROBLEMS.get(event.model.slots.get("problem"), PROBLEMS["gone"]))


HOW = {
    "in_person": "请带上劳动合同、工资条、聊天记录等材料按时到场。",
    "online": "这是线上视频咨询：工作人员会在咨询前打电话给您（{masked}），告诉您怎么进入视频。",
}


def ask_reuse_phone(run) -> str:
    return (f"上次您留的手机号是 {mask_mobile(run.slots['phone_on_file'])}，这次也用它联系您吗？\n"
            "回复 1 使用这个号码，回复 2 换一个号码")


def ask_confirm(run) -> str:
    s = run.slots
    how = "线上视频" if s.get("mode") == "online" else "现场"
    return (f"请确认您的预约：\n问题：{s['topic']}\n时段：{s['when']}（{how}）\n手机：{mask_mobile(s['phone'])}\n"
            "回复 1 提交，回复 2 修改")


def ask_booked(run) -> str:
    s = run.slots
    how = HOW.get(s.get("mode"), HOW["in_person"]).format(masked=mask_mobile(s["phone"]))
    return f"预约成功！\n时段：{s['when']}\n{how}\n回复「我的预约」可查看，回复「取消预约」可取消。"


FLOW = Flow(
    name=NAME, title=TITLE, refuse=refuse,
    states=[
        {"name": "topic", "title": "问题类别", "slot": "topic", "parse": category,
         "ask": "请问遇到的是哪类问题？回复序号，例如：1\n"
                + "\n".join(f"{i} {name}" for i, name in enumerate(OPTIONS, 1))},
        {"name": "facts", "title": "情况描述", "slot": "facts", "free_text": True,
         "parse": free_text(max_len=300, example="公司三个月没发工资，老板一直拖着"),
         "ask": "请简单描述情况（300字以内），律师会提前阅读。例如：公司三个月没发工资，老板一直拖着"},
        {"name": "slot", "title": "咨询时段", "slot": "slot_no", "parse": slot_number, "ask": ask_slot,
         "on_enter": [offer]},
        {"name": "reuse_phone", "title": "沿用手机号", "slot": "reuse_phone", "parse": yes_no("使用这个号码", "换一个号码"),
         "ask": ask_reuse_phone},
        {"name": "phone", "title": "手机号", "slot": "phone", "parse": phone,
         "ask": "请留下手机号，方便律师或工作人员提前与您联系，例如：13812345678"},
        {"name": "confirm", "title": "确认", "slot": "confirmed", "parse": yes_no(), "ask": ask_confirm},
        {"name": "booked", "title": "预约成功", "final": True, "ask": ask_booked},
    ],
    transitions=[
        # trigger   source      dest
        ["answer", "topic", "facts"],
        ["answer", "facts", "slot"],
        {"trigger": "answer", "source": "slot", "dest": "confirm", "conditions": [listed, seat_free, phone_known],
         "before": choose},
        {"trigger": "answer", "source": "slot", "dest": "reuse_phone", "conditions": [listed, seat_free, phone_on_file],
         "before": choose},
        {"trigger": "answer", "source": "slot", "dest": "phone", "conditions": [listed, seat_free], "before": choose},
        {"trigger": "answer", "source": "slot", "dest": "slot", "before": not_available},  # offer the list again
        {"trigger": "answer", "source": "reuse_phone", "dest": "confirm", "conditions": reuses_phone,
         "before": take_phone_on_file},
        ["answer", "reuse_phone", "phone"],
        ["answer", "phone", "confirm"],
        {"trigger": "answer", "source": "confirm", "dest": "topic", "unless": confirmed, "before": forget},
        {"trigger": "answer", "source": "confirm", "dest": "booked", "prepare": reserve, "conditions": reserved},
        {"trigger": "answer", "source": "confirm", "dest": "slot", "before": seat_gone},  # filled up meanwhile
        ["back", "facts", "topic"],
        ["back", "slot", "facts"],
        ["back", "reuse_phone", "slot"],
        ["back", "phone", "slot"],
        ["back", "confirm", "slot"],
    ],
)
