"""法律援助预约 – book a consultation with a union lawyer.

topic → facts → day → confirm → booked. Global commands (取消, 返回, 转人工) and re-asking are
handled by bot.dialog; this module only says what to ask and where each answer leads.
"""
from datetime import date

from bot.flows.steps import choice, free_text, future_date, yes_no
from bot.models import LegalAidBooking

NAME = "legal_aid"  # routing target: flow.legal_aid
TITLE = "预约法律援助"
TOPICS = ["欠薪", "解除劳动合同", "工伤", "其他"]


def confirmed(event):
    return event.model.slots.get("confirmed") is True


def book(event):
    s = event.model.slots
    event.model.session.add(LegalAidBooking(
        worker_id=event.model.worker.id, topic=s["topic"], facts=s["facts"],
        day=date.fromisoformat(s["day"])))


STATES = [
    {"name": "topic", "slot": "topic", "parse": choice(TOPICS),
     "ask": "请问遇到的是哪类问题？回复序号：\n1 欠薪\n2 解除劳动合同\n3 工伤\n4 其他"},
    {"name": "facts", "slot": "facts", "parse": free_text(max_len=300, example="公司三个月没发工资"),
     "ask": "请简单描述情况（300字以内），律师会提前阅读。"},
    {"name": "day", "slot": "day", "parse": future_date(),
     "ask": "希望哪天咨询？例如：明天、5月23日、2022-05-23"},
    {"name": "confirm", "slot": "confirmed", "parse": yes_no(),
     "ask": "请确认：\n问题：{topic}\n日期：{day}\n回复 1 提交，回复 2 重新填写"},
    {"name": "booked", "final": True, "on_enter": [book],
     "ask": "预约成功！工作人员会在咨询前一天与您联系。"},
]

TRANSITIONS = [
    # trigger   source      dest
    ["answer", "topic", "facts"],
    ["answer", "facts", "day"],
    ["answer", "day", "confirm"],
    {"trigger": "answer", "source": "confirm", "dest": "booked", "conditions": confirmed},
    {"trigger": "answer", "source": "confirm", "dest": "topic", "unless": confirmed},
    ["back", "facts", "topic"],
    ["back", "day", "facts"],
    ["back", "confirm", "day"],
]
