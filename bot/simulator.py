"""Try the bot without WeChat: a client that talks to /wechat exactly as WeChat does, and /dev/chat.

`flask chat`, the browser page and the tests build real signed XML (encrypted when
WECHAT_AES_KEY is set) with the protocol module (bot.wechat) and go through the real webhook, so
what a newcomer sees is what WeChat users get.
"""
from __future__ import annotations

import ipaddress
import itertools
import secrets
import time
from urllib.parse import urlsplit

import requests
from flask import Blueprint, abort, current_app, jsonify, render_template, request

from bot import wechat

bp = Blueprint("simulator", __name__, url_prefix="/dev")
_msg_ids = itertools.count(int(time.time() * 1000))
# The keys of the official account's custom menu (bot/handlers/menu.py), as the page shows them.
MENU_KEYS = [("LEGAL", "法律咨询"), ("MEMBERSHIP", "入会申请"), ("HOME_OFFICE", "居家办公报备"), ("CHECKIN", "健康打卡"),
             ("LEGAL_AID", "预约律师"), ("MY_BOOKINGS", "我的预约"), ("MY_APPLICATION", "我的入会进度"),
             ("WAGE_ARREARS", "欠薪怎么办"), ("HOTLINES", "服务热线"), ("HANDOFF", "转人工"), ("MENU", "全部服务")]


class WeChatSim:
    """One worker's phone: builds messages, signs (and encrypts) them, posts, reads the reply."""

    def __init__(self, client, config, openid: str = "o_simulated_worker", encrypt: bool | None = None):
        self.client, self.openid, self.token = client, openid, config["WECHAT_TOKEN"]
        aes_key = config.get("WECHAT_AES_KEY") or ""
        self.encrypt = bool(aes_key) if encrypt is None else encrypt
        self.cipher = wechat.crypto(self.token, aes_key, config["WECHAT_APP_ID"]) if self.encrypt else None
        self.last_response = None

    def xml(self, msg_type: str, fields: dict | None = None, msg_id: int | None = None,
            create_time: int | None = None) -> str:
        msg_id = None if msg_type == "event" else (msg_id or next(_msg_ids))
        return wechat.message_xml(self.openid, msg_type, fields, msg_id=msg_id, create_time=create_time)

    def post(self, xml: str, timestamp: int | None = None):
        path, body = wechat.request(xml, self.token, openid=self.openid, cipher=self.cipher, timestamp=timestamp)
        self.last_response = self.client.post(path, data=body.encode("utf-8"), headers={"Content-Type": "text/xml"})
        return self.last_response

    def reply_of(self, response) -> str:
        data = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}: {data[:200]}")
        return wechat.read_reply(data, self.cipher)

    def send(self, msg_type: str, fields: dict | None = None, **kw) -> str:
        return self.reply_of(self.post(self.xml(msg_type, fields, **kw)))

    def say(self, text: str) -> str:
        return self.send("text", {"Content": text})

    def voice(self, recognition: str) -> str:
        """A voice message with WeChat's speech recognition on (the Recognition field)."""
        return self.send("voice", {"MediaId": "media_" + secrets.token_hex(4), "Format": "amr",
                                   "Recognition": recognition})

    def location(self, label: str, lat: str = "39.9", lng: str = "116.4") -> str:
        return self.send("location", {"Location_X": lat, "Location_Y": lng, "Scale": "15", "Label": label})

    def event(self, event: str, key: str | None = None) -> str:
        return self.send("event", {"Event": event, **({"EventKey": key} if key is not None else {})})


@bp.before_request
def loopback_only():
    """The simulator posts as any worker with no credential: only a developer on this machine may use
    it (app.register_blueprints serves it only when ENV=development). A request relayed by a proxy
    is not local, even though the proxy itself connects from 127.0.0.1."""
    relayed = request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")
    if relayed or not is_loopback(request.remote_addr):
        abort(403)


def is_loopback(address: str | None) -> bool:
    """127.0.0.0/8 and ::1 (also as an IPv4-mapped IPv6 address, ::ffff:127.0.0.1)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


@bp.get("/chat")
def chat_page():
    return render_template("simulator.html", menu_keys=MENU_KEYS)


@bp.post("/chat/send")
def chat_send():
    """The page's messages go through the real webhook, signed (and encrypted) like WeChat's."""
    data = request.get_json(silent=True) or {}
    sim = WeChatSim(current_app.test_client(), current_app.config,
                    openid=str(data.get("openid") or "o_browser")[:64])
    kind = data.get("kind", "text")
    if kind == "event":
        reply = sim.event(str(data.get("event", "subscribe")), data.get("key"))
    elif kind == "location":
        reply = sim.location(str(data.get("label") or "北京市东城区")[:200])
    elif kind == "voice":
        reply = sim.voice(str(data.get("text", ""))[:2000])
    else:
        reply = sim.say(str(data.get("text", ""))[:2000])
    return jsonify(reply=reply, mode="安全模式" if sim.encrypt else "明文模式")


@bp.get("/chat/pushed")
def chat_pushed():
    """What the fake WeChat API (bot/fake_wechat.py) recorded as sent to this worker after message
    number `after`: outbox messages show up on the page as WeChat would show them. Empty when the
    API base is not a local fake server."""
    base = urlsplit(current_app.config["WECHAT_API_BASE_URL"])
    if base.hostname not in ("127.0.0.1", "localhost"):
        return jsonify(messages=[], after=0)
    try:
        sent = requests.get(f"{base.scheme}://{base.netloc}/_fake/sent", timeout=2, params={
            "touser": request.args.get("openid", ""), "after": request.args.get("after", 0, type=int)}).json()["sent"]
    except (requests.RequestException, ValueError, KeyError):
        return jsonify(messages=[], after=request.args.get("after", 0, type=int))
    messages = [m["content"] if m.get("msgtype") == "text" else
                "［模板消息］" + "；".join(v.get("value", "") for v in (m.get("data") or {}).values()) for m in sent]
    return jsonify(messages=messages, after=max([m["n"] for m in sent], default=request.args.get("after", 0, type=int)))
