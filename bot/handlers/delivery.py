"""TEMPLATESENDJOBFINISH: record whether a template message reached the worker.

https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html
"""
from sqlalchemy import select

from bot.dispatch import Handlers
from bot.models import DeliveryReceipt, Outbox

handlers = Handlers()


@handlers.event("templatesendjobfinish")
def delivered(msg, ctx):
    msg_id, status = str(msg.id), (msg.status or "")[:64]
    ctx.session.add(DeliveryReceipt(worker_id=ctx.conversation.worker_id, wechat_msg_id=msg_id, status=status))
    for row in ctx.session.scalars(select(Outbox).where(Outbox.wechat_msg_id == msg_id)):
        row.delivery_status = status
    return None
