"""Try the bot without WeChat: a client that talks to /wechat exactly as WeChat does, and /dev/chat.

Both `flask chat` and the browser page build real signed XML (encrypted when WECHAT_AES_KEY is
set) and go through the real webhook, so what a newcomer sees is what WeChat users get.
"""
from __future__ import annotations

import itertools
import secrets
import time
from urllib.parse import urlencode, urlsplit

import requests
import xmltodict
from flask import Blueprint, current_app, jsonify, render_template, request
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import deserialize_reply
from wechatpy.utils import WeChatSigner

bp = Blueprint("simulator", __name__, url_prefix="/dev")
_msg_ids = itertools.count(int(time.time() * 1000))


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


class WeChatSim:
    """One worker's phone: builds messages, signs (and encrypts) them, posts, reads the reply."""

    def __init__(self, client, config, openid: str = "o_simulated_worker", encrypt: bool | None = None):
        self.client, self.openid = client, openid
        self.token, self.app_id = config["WECHAT_TOKEN"], config["WECHAT_APP_ID"]
        self.aes_key = config.get("WECHAT_AES_KEY") or ""
        self.encrypt = bool(self.aes_key) if encrypt is None else encrypt
        self.last_response = None

    def xml(self, msg_type: str, fields: dict | None = None, msg_id: int | None = None,
            create_time: int | None = None) -> str:
        body = {"ToUserName": "gh_union_account", "FromUserName": self.openid,
                "CreateTime": str(create_time or int(time.time())), "MsgType": msg_type, **(fields or {})}
        if msg_type != "event":
            body["MsgId"] = str(msg_id or next(_msg_ids))
        return xmltodict.unparse({"xml": body}, full_document=False)

    def post(self, xml: str, timestamp: int | None = None):
        timestamp, nonce = str(timestamp or int(time.time())), secrets.token_hex(5)
        query = {"timestamp": timestamp, "nonce": nonce, "signature": sign(self.token, timestamp, nonce),
                 "openid": self.openid}
        if self.encrypt:
            envelope = WeChatCrypto(self.token, self.aes_key, self.app_id).encrypt_message(xml, nonce, timestamp)
            encrypted = xmltodict.parse(envelope)["xml"]
            query.update(encrypt_type="aes", msg_signature=encrypted["MsgSignature"])
            xml = xmltodict.unparse({"xml": {"ToUserName": "gh_union_account", "Encrypt": encrypted["Encrypt"]}},
                                    full_document=False)
        self.last_response = self.client.post("/wechat?" + urlencode(query), data=xml.encode("utf-8"),
                                              headers={"Content-Type": "text/xml"})
        return self.last_response

    def reply_of(self, response, nonce_check: bool = True) -> str:
        data = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}: {data[:200]}")
        if data in ("", "success"):
            return ""
        if self.encrypt:
            envelope = xmltodict.parse(data)["xml"]
            crypto = WeChatCrypto(self.token, self.aes_key, self.app_id)
            data = crypto.decrypt_message(envelope, envelope["MsgSignature"], envelope["TimeStamp"],
                                          envelope["Nonce"])
        reply = deserialize_reply(data)
        return getattr(reply, "content", "") or f"[{reply.type}]"

    def send(self, msg_type: str, fields: dict | None = None, **kw) -> str:
        return self.reply_of(self.post(self.xml(msg_type, fields, **kw)))

    def say(self, text: str) -> str:
        return self.send("text", {"Content": text})

    def event(self, event: str, key: str | None = None) -> str:
        return self.send("event", {"Event": event, **({"EventKey": key} if key is not None else {})})


@bp.get("/chat")
def chat_page():
    return render_template("simulator.html", openid=request.args.get("openid", "o_browser_" + secrets.token_hex(4)))


@bp.post("/chat/send")
def chat_send():
    """The page's messages go through the real webhook, signed (and encrypted) like WeChat's."""
    data = request.get_json(silent=True) or {}
    sim = WeChatSim(current_app.test_client(), current_app.config, openid=str(data.get("openid") or "o_browser"))
    kind = data.get("kind", "text")
    if kind == "event":
        reply = sim.event(str(data.get("event", "subscribe")), data.get("key"))
    elif kind == "location":
        reply = sim.send("location", {"Location_X": "39.9", "Location_Y": "116.4", "Scale": "15",
                                      "Label": str(data.get("label") or "北京市东城区")})
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
