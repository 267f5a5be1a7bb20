"""WeChat customer-service tool sessions (HANDOFF_TO=wechat_kf): a 客服 took, passed on or closed the worker.

Nothing is said to the worker: the tool speaks for itself. After kf_close_session the bot answers again.
https://developers.weixin.qq.com/doc/offiaccount/Customer_Service/Customer_Service_Management.html
"""
from bot.dispatch import Handlers
from bot.services import wechat_kf

handlers = Handlers()


@handlers.event("kf_create_session")
def kf_joined(msg, ctx):
    wechat_kf.session_started(ctx.session, ctx.worker, msg.account)
    return None


@handlers.event("kf_switch_session")
def kf_passed_on(msg, ctx):
    wechat_kf.session_switched(ctx.session, ctx.worker, msg.to_account)
    return None


@handlers.event("kf_close_session")
def kf_released(msg, ctx):
    wechat_kf.session_closed(ctx.session, ctx.worker, msg.account)
    return None
