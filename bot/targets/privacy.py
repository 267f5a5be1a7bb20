"""查询我的信息 / 删除我的信息 / 撤回同意: the worker's requests about their personal data (PIPL art. 44–47).

Each becomes a PrivacyRequest row for staff (bot.services.privacy); 撤回同意 takes effect at once.
"""
from __future__ import annotations

from bot.services import privacy
from bot.targets.core import paused_note
from bot.targets.registry import target

RECEIVED = {
    "show": ("已收到您查询个人信息的申请（编号 {id}）。工作人员会整理本公众号保存的您的信息，"
             "尽快通过本公众号答复您。"),
    "delete": ("已收到您删除个人信息的申请（编号 {id}）。工作人员核实后会删除本公众号保存的您的全部信息"
               "（入会申请、健康打卡、法律援助预约、聊天记录等），完成后通知您。\n"
               "请注意：删除后无法恢复，正在办理的入会申请和法律援助预约也会一并取消。"),
    "withdraw": ("已撤回您的同意：{purposes}。从现在起我们不再收集和使用这些信息{ended}。\n"
                 "已经保存的信息，需要删除请回复「删除我的信息」；要查看请回复「查询我的信息」。（申请编号 {id}）"),
}
ALREADY = "您的「{what}」申请（编号 {id}）已经在处理中了，完成后会通过本公众号通知您。"
NOTHING_TO_WITHDRAW = ("您目前没有需要撤回的同意（入会申请、健康信息都没有同意过或已经撤回）。\n"
                       "要查看或删除已保存的信息，请回复「查询我的信息」或「删除我的信息」。")
ENDED = "，居家办公报备已结束，不会再收到打卡提醒"


@target("privacy.show", "privacy.delete", "privacy.withdraw")
def privacy_request(conv, name, arg) -> str:
    conv.context.clear()
    kind = name.removeprefix("privacy.")
    received = privacy.request(conv.session, conv.worker, kind)
    req = received.request
    if req is None:
        return NOTHING_TO_WITHDRAW + paused_note(conv)
    if received.withdrawn:  # a withdrawal always says what it withdrew, even with a request open
        purposes = "、".join(privacy.PURPOSES.get(p, p) for p in received.withdrawn)
        reply = RECEIVED["withdraw"].format(purposes=purposes, id=req.id, ended=ENDED if received.ended_home_office else "")
    elif not received.created:
        reply = ALREADY.format(what=privacy.KINDS[req.kind], id=req.id)
    else:
        reply = RECEIVED[kind].format(id=req.id)
    return reply + paused_note(conv)
