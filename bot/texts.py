"""Shared worker-facing strings (Simplified Chinese). Flow prompts live in their flow modules."""

OFFICE_HOURS_DEFAULT = "工作日 9:00–17:30"  # the OFFICE_HOURS setting's default; set the union's own

MENU_ITEMS = [
    # (what the worker sees, routing target)
    ("劳动法律咨询（直接输入您的问题即可）", "menu.legal"),
    ("入会申请", "flow.membership"),
    ("居家办公报备 / 每日健康打卡", "flow.home_office"),
    ("预约法律援助", "flow.legal_aid"),
    ("我的入会进度", "union.application_status"),
    ("转人工", "flow.handoff"),
]

MENU = "职工之家可以帮您：\n" + "\n".join(
    f"{i} {label}" for i, (label, _) in enumerate(MENU_ITEMS, 1)
) + "\n回复序号，或直接输入您的问题，例如：公司拖欠工资怎么办"

WELCOME = "您好，欢迎关注职工之家！这里是工会为职工提供的服务窗口。\n\n" + MENU

LEGAL_PROMPT = "请直接输入您遇到的问题，例如：\n· 公司拖欠工资怎么办\n· 被辞退能拿多少补偿\n· 加班费怎么算"

SORRY = "抱歉，这个问题我暂时回答不了，怕答错耽误您。"
FALLBACK_FULL = SORRY + "\n您可以换个说法再问，或回复「转人工」请工作人员帮您。\n\n" + MENU
FALLBACK_SHORT = SORRY + "您可以换个说法再问，或回复：\n1 转人工\n2 查看菜单"
FALLBACK_SHORT_ITEMS = [("转人工", "flow.handoff"), ("查看菜单", "menu")]
WHICH_LIST = "您回复了「{said}」，不过现在没有可选的列表。想办理什么，可以从菜单选：\n\n" + MENU
BOT_IDENTITY = ("我是职工之家的自动服务助手（机器人），可以解答劳动法律问题，办理入会申请、居家办公报备和法律援助预约。\n"
                "需要工作人员（真人）帮您，请回复「转人工」。")

READ_TEXT_ONLY = "收到啦！不过我目前只能看懂文字，请用文字告诉我您想咨询的问题，或回复「菜单」查看服务。"
VOICE_UNRECOGNISED = "抱歉，这条语音我没能听清，请用文字再说一遍，或回复「菜单」查看服务。"
LOCATION_THANKS = "已收到您的位置：{label}。如需办理健康打卡，请回复「打卡」。"
NOTHING_TO_CANCEL = "当前没有正在办理的事项。\n\n" + MENU
NOTHING_TO_GO_BACK = "已经是第一步了。回复「取消」可以结束办理。"
NOTHING_TO_RESUME = "当前没有暂停的办理事项。\n\n" + MENU
CANCELLED = "已取消「{title}」，填写的内容没有保存。需要时可以随时重新开始。"
EXPIRED = "您上次办理的「{title}」因长时间没有回复已自动结束，填写的内容没有保存。需要的话请重新开始。"
PAUSED = "（您正在办理「{title}」，回复「继续」接着填写，回复「取消」结束办理。）"
RESUME_LATER = "（您之前的「{title}」还没填完，已为您保存，回复「继续」接着填写。）"
OFFER_HANDOFF = "\n如果不方便填写，可以回复「转人工」，由工作人员帮您。"
SYSTEM_BUSY = "系统有点忙，您的消息已收到，请稍后再发一次。"
RECEIVED_LATER = "您的消息已收到。系统正忙，处理好后会马上回复您，不用再发一次。"  # kept in the spool (bot/webhook.py)
FLOOD = "您发得太快了，请稍后再发。"  # beyond FLOOD_MESSAGES in FLOOD_SECONDS

# In a flow, the worker typed something that looks like another request (a service phrase or a
# question): ask before leaving the step; the draft is kept either way.
SWITCH_ASK = ("您正在办理「{title}」，这一步要填{step}。\n您是想先{what}吗？\n"
              "1 是，先{what}（填好的内容会保留，之后回复「继续」接着填）\n2 不是，{stay}")
SWITCH_STAY_STEP = "继续填写{step}"
SWITCH_STAY_ANSWER = "这就是我要填的{step}"
START_OTHER_FLOW = ("您正在办理「{title}」，还没填完。要先去「{other}」吗？\n"
                    "1 是，去「{other}」（「{title}」填好的内容会保留，之后回复「继续」接着填）\n2 不是，继续填写「{title}」")
CONFIRM_FLOW = "您是想{title}吗？\n1 是，开始{title}\n2 不是，我直接说问题\n3 转人工，请工作人员帮我"

HANDOFF_OPENED = ("已为您转接人工服务，工作人员会在{office_hours}内尽快回复您。\n"
                  "在此期间您发的消息都会转给工作人员。回复「结束人工」可回到自动服务。")
HANDOFF_ALREADY = "已经在为您转接人工了，工作人员会尽快回复。回复「结束人工」可回到自动服务。"
HANDOFF_QUEUED = "已转给工作人员，请耐心等待回复。（回复「结束人工」可回到自动服务）"
HANDOFF_ENDED = "已结束人工服务，回到自动服务。\n\n" + MENU
HANDOFF_COMMAND_WAIT = ("您现在正在等工作人员回复，「{said}」暂时用不了。\n"
                        "回复「结束人工」回到自动服务后就可以{what}了；工作人员的回复不受影响。")
RATED = "谢谢您的评分（{stars}分）！我们会继续改进。还有问题可以直接问我，需要人工时回复「转人工」。"
HANDOFF_KF_TYPE = "已为您转接人工客服。请直接输入您的问题，客服会在这里回复您。回复「结束人工」可回到自动服务。"
HANDOFF_MENU_WAIT = "您正在等待工作人员回复，菜单暂时不能使用。回复「结束人工」可回到自动服务。"

FEEDBACK_ASK = "这个回答有帮助吗？回复 1 有帮助，2 没解决"
FEEDBACK_ITEMS = ["有帮助", "没解决"]
FEEDBACK_THANKS = "谢谢您的反馈！还有其他问题可以直接问我。"
FEEDBACK_SORRY = "抱歉没能解决您的问题。回复「转人工」由工作人员为您解答，或回复「法律援助」预约律师。"
CLARIFY = "您是想问：\n{options}\n回复序号即可；都不是的话，请换个说法再问。"
MORE = "（{page}/{total}）回复「更多」或「下一页」接着看"
NO_MORE = "这个回答已经看完了（共{total}页）。还有其他问题可以直接问我。"
LATER = "您还问到「{title}」，看完这个回答后回复「另一个问题」查看。"
LATER_ITEM = "看另一个问题"
FEEDBACK_LATER = "，3 看另一个问题「{title}」"
NO_LATER = "刚才的问题都已经回答了。还想了解什么，可以从菜单选：\n\n"

# Notices pushed through the WeChat API (bot.outbox.notify), keyed by what happened.
NOTICES = {
    "membership.approved": "好消息！您的入会申请已通过审核，欢迎加入工会！{routed_to}会与您联系办理会员证。",
    "membership.rejected": ("您的入会申请未通过审核。原因：{reason}\n"
                            "您可以修改信息后重新申请：回复「入会」。有疑问请回复「转人工」。"),
    "handoff.closed": ("工作人员（{staff}）已处理完您的咨询：{note}\n"
                       "如还有问题，直接输入即可；需要人工时回复「转人工」。\n"
                       "请为本次人工服务打分：直接回复数字 1–5（5 分最满意）。"),
    # issue 12: the legal-aid desk and privacy requests
    "legal_aid.cancelled": ("很抱歉，您 {when} 的法律援助预约已被工作人员取消。{reason}\n"
                            "如需重新预约，请回复「法律援助」；有疑问请回复「转人工」。"),
    "privacy.deleted": ("您申请删除的个人信息已经全部删除（入会申请、健康打卡、预约、聊天记录等）。"
                        "今后如再使用本公众号的服务，需要重新填写。"),
    "privacy.shown": ("您查询的个人信息：本公众号保存了以下内容——\n{summary}\n"
                      "需要完整的副本，请回复「转人工」与工作人员联系；需要删除，请回复「删除我的信息」。"),
    "privacy.withdrawn": ("您撤回同意的申请已处理完毕。本公众号目前还保存着——\n{summary}\n"
                          "需要删除这些信息，请回复「删除我的信息」。"),
}
