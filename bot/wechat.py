"""The WeChat message protocol, and nothing else: safe XML, signatures, AES, parse, render, fit, dedupe key.

Shared by the webhook (receiving), the simulator and the tests (sending as WeChat does) and bench/
(pre-built requests). No Flask, no database.

https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Message_encryption_and_decryption_instructions.html
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Passive_user_reply_message.html
"""
from __future__ import annotations

import secrets
import struct
import time
from functools import lru_cache
from urllib.parse import urlencode
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import EVENT_TYPES
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage
from wechatpy.fields import StringField
from wechatpy.replies import BaseReply, EmptyReply, TextReply, TransferCustomerServiceReply
from wechatpy.utils import WeChatSigner, check_signature

TEXT_LIMIT_BYTES = 2000  # WeChat refuses passive text replies over 2048 bytes
REQUIRED = ("MsgType", "FromUserName", "ToUserName")


class Refused(Exception):
    """The request is not a valid WeChat message: `status` is the HTTP answer (400 or 403)."""

    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status = status


# -- signatures and AES ----------------------------------------------------------------------

def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def verify(token: str, signature: str, timestamp: str, nonce: str, window: int | None) -> None:
    """The URL signature and, unless `window` is None, the timestamp window (replay protection);
    Refused(403) otherwise."""
    if window is not None and (not timestamp.isdigit() or abs(time.time() - int(timestamp)) > window):
        raise Refused(403, "timestamp outside the window")
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        raise Refused(403, "bad signature") from None


@lru_cache(maxsize=8)
def crypto(token: str, aes_key: str, app_id: str) -> WeChatCrypto:
    return WeChatCrypto(token, aes_key, app_id)


def decrypt(envelope: dict, cipher: WeChatCrypto, msg_signature: str, timestamp: str, nonce: str) -> str:
    """The plain XML inside a safe-mode envelope (already parsed: the envelope is read once)."""
    if not isinstance(envelope.get("Encrypt"), str):
        raise Refused(400, "no Encrypt element")
    try:
        return cipher.decrypt_message(envelope, msg_signature, timestamp, nonce)
    except InvalidSignatureException:
        raise Refused(403, "bad msg_signature") from None
    except (InvalidAppIdException, ValueError, TypeError, KeyError, IndexError, struct.error):
        # bad base64, not whole AES blocks, bad padding, another account's AppID
        raise Refused(400, "cannot decrypt") from None


# -- XML ---------------------------------------------------------------------------------------

def fields(body: bytes | str) -> dict:
    """The <xml> root as a dict, the way wechatpy reads it (text, nested dicts, None when empty).

    defusedxml refuses DTDs, entities and external references before anything is expanded, so
    entity bombs and XXE never reach a parser; the body must be UTF-8.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise Refused(400, "not UTF-8") from None
    if not text.strip():
        raise Refused(400, "empty body")
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError):
        raise Refused(400, "not well-formed or unsafe XML") from None
    if root.tag != "xml":
        raise Refused(400, "the root element is not <xml>")
    value = _value(root)
    return value if isinstance(value, dict) else {}


def _value(element: Element):
    children = list(element)
    if not children:
        return element.text
    out: dict = {}
    for child in children:
        value = _value(child)
        if child.tag in out:  # repeated elements (e.g. PicList items) become a list, as in xmltodict
            out[child.tag] = [*out[child.tag], value] if isinstance(out[child.tag], list) else [out[child.tag], value]
        else:
            out[child.tag] = value
    return out


def message(data: dict):
    """The wechatpy message or event for parsed fields.

    wechatpy.parse_message() takes XML text and parses it again with xmltodict; this is its type
    selection (wechatpy/parser.py) applied to the dict we already have — written out by hand because
    wechatpy has no entry point for a parsed message.
    """
    if not all(isinstance(data.get(k), str) and data[k] for k in REQUIRED):
        raise Refused(400, "missing MsgType, FromUserName or ToUserName")
    data = dict(data)
    kind = data["MsgType"].lower()
    if kind == "event":
        event = str(data.get("Event") or "").lower()
        key = data.get("EventKey")
        if event == "subscribe" and isinstance(key, str) and key.startswith("qrscene_"):
            event, data["Event"], data["EventKey"] = "subscribe_scan", "subscribe_scan", key[len("qrscene_"):]
        elif event == "subscribe" and isinstance(key, str) and key.startswith(("scanbarcode|", "scanimage|")):
            event = data["Event"] = "subscribe_scan_product"
        cls = EVENT_TYPES.get(event, UnknownMessage)
    else:
        cls = MESSAGE_TYPES.get(kind, UnknownMessage)
    try:
        msg = cls(data)
        msg.id, msg.time  # noqa: B018 – wechatpy converts lazily; force it while we can still say 400
    except (ValueError, TypeError, KeyError, AttributeError):
        raise Refused(400, "a field has the wrong type") from None
    return msg


def dedupe_key(msg) -> str:
    """What makes a delivery unique: MsgId, or for events sender + time + event + key."""
    if msg.type != "event" and msg.id:
        return f"msg:{msg.id}"
    # Two different menu clicks in the same second are two events: the key is part of the identity.
    return f"evt:{msg.source}:{msg.time}:{getattr(msg, 'event', '')}:{getattr(msg, 'key', '') or ''}"[:128]


def describe(msg) -> tuple[str, str]:
    """(kind, content) for the message log."""
    if msg.type == "event":
        return f"event:{getattr(msg, 'event', '')}", str(getattr(msg, "key", "") or "")
    content = {"text": getattr(msg, "content", None), "voice": getattr(msg, "recognition", None),
               "location": getattr(msg, "label", None)}.get(msg.type)
    return msg.type, content or f"[{msg.type}]"


# -- replies -----------------------------------------------------------------------------------

def fit(text: str, limit: int = TEXT_LIMIT_BYTES) -> str:
    """Text cut to WeChat's passive-reply size (UTF-8 bytes), with an ellipsis when cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", "ignore") + "…"


def render(reply, msg) -> str:
    """Reply XML ("" for nothing to say). `]]>` in text is split so it cannot end the CDATA early."""
    if reply is None or isinstance(reply, EmptyReply):
        return ""
    if isinstance(reply, str):
        reply = TextReply(content=reply)
    if isinstance(reply, TextReply):
        reply.content = fit(reply.content or "").replace("]]>", "]]]]><![CDATA[>")
    if not isinstance(reply, BaseReply):
        raise TypeError(f"cannot render {type(reply).__name__} as a WeChat reply")
    reply.source, reply.target = msg.target, msg.source
    return reply.render()


class _TransInfo(StringField):
    """<TransInfo><KfAccount>…</KfAccount></TransInfo>, which wechatpy's reply lacks; nothing when unset."""

    def to_xml(self, value):
        if not value:
            return ""
        return f"<TransInfo><KfAccount><![CDATA[{self.converter(value)}]]></KfAccount></TransInfo>"


class TransferReply(TransferCustomerServiceReply):
    """Hand this message to WeChat's customer-service tool (网页版客服工具), optionally to one 客服
    account. https://developers.weixin.qq.com/doc/offiaccount/Customer_Service/Forwarding_of_messages_to_service_center.html
    """

    account = _TransInfo("TransInfo")


def transfer_reply(account: str | None = None) -> TransferReply:
    return TransferReply(account=account or None)


def reply_text(xml: str) -> str:
    """The text of a passive reply (for the simulator and tests); "[type]" for other replies."""
    from wechatpy.replies import deserialize_reply

    reply = deserialize_reply(xml)
    return getattr(reply, "content", "") or f"[{reply.type}]"


# -- building requests as WeChat does (simulator, tests, bench) ---------------------------------

def _cdata(value) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(openid: str, msg_type: str, values: dict | None = None, *, msg_id: int | None = None,
                create_time: int | None = None, account: str = "gh_union_account") -> str:
    body = {"ToUserName": account, "FromUserName": openid, "CreateTime": str(create_time or int(time.time())),
            "MsgType": msg_type, **(values or {})}
    if msg_type != "event" and msg_id is not None:
        body["MsgId"] = str(msg_id)
    return "<xml>" + "".join(f"<{k}>{_cdata(v)}</{k}>" for k, v in body.items()) + "</xml>"


def request(xml: str, token: str, *, openid: str = "", cipher: WeChatCrypto | None = None,
            timestamp: int | None = None, nonce: str | None = None,
            account: str = "gh_union_account") -> tuple[str, str]:
    """(path with query, body) of a POST to /wechat, signed — and encrypted when `cipher` is given."""
    ts, nonce = str(timestamp or int(time.time())), nonce or secrets.token_hex(5)
    query = {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce}
    if openid:
        query["openid"] = openid
    if cipher is not None:
        envelope = fields(cipher.encrypt_message(xml, nonce, ts))
        query.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        xml = f"<xml><ToUserName>{_cdata(account)}</ToUserName><Encrypt>{_cdata(envelope['Encrypt'])}</Encrypt></xml>"
    return "/wechat?" + urlencode(query), xml


def read_reply(body: str, cipher: WeChatCrypto | None = None) -> str:
    """The reply text of a webhook answer ("" for "success" or nothing), decrypting safe mode."""
    if body in ("", "success"):
        return ""
    if cipher is not None:
        envelope = fields(body)
        body = cipher.decrypt_message(envelope, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    return reply_text(body)
