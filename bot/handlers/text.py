"""Text messages: a global command → the dialog; in a flow → the step; otherwise → the free-text policy
(with WeChat's customer-service tool holding the worker, the tool gets them)."""
from bot import answers, dialog
from bot.dispatch import Handlers
from bot.services import wechat_kf

handlers = Handlers()


def converse(conv, text: str) -> str:
    """What a worker's words (typed, or recognised from a voice message) get as a reply."""
    command = answers.command_of(conv, text)
    if conv.owner == wechat_kf.CHANNEL:  # WeChat's own customer-service tool has the worker
        return dialog.in_wechat_kf(conv, text, command)
    if conv.owner == "staff":
        reply = dialog.during_handoff(conv, text, command)
    elif command:
        reply = dialog.command(conv, command, text)
    elif conv.in_flow:
        reply = dialog.step(conv, text)
    else:
        reply = answers.respond(conv, text)
    return dialog.finish(conv, reply, said=text)


@handlers.message("text")
def text_message(msg, ctx):
    return converse(ctx.conversation, msg.content or "")
