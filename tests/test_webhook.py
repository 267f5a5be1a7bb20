"""The /wechat endpoint: verification, the three message modes, forged and malformed requests, retries."""
from __future__ import annotations

import base64
import time
from urllib.parse import urlencode

import pytest
import xmltodict
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from bot.models import Escalation, Message
from bot.simulator import WeChatSim
from bot.wechat import sign
from tests.support import AES_KEY, APP_ID

TOKEN = "test-token"


def signed_query(timestamp=None, nonce="n0nce", **extra):
    timestamp = str(timestamp or int(time.time()))
    return {"timestamp": timestamp, "nonce": nonce, "signature": sign(TOKEN, timestamp, nonce), **extra}


def text_xml(content="你好", msg_id="1001", sender="o_worker_1"):
    return (f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def post(client, body, **query):
    data = body.encode("utf-8") if isinstance(body, str) else body
    return client.post("/wechat?" + urlencode(query or signed_query()), data=data,
                       headers={"Content-Type": "text/xml"})


def still_serving(app):
    """After a refused request the bot still answers a good one."""
    assert "职工之家" in WeChatSim(app.test_client(), app.config, openid="o_check").say("菜单")


# -- URL verification ----------------------------------------------------------------------------

def test_url_verification_echoes_echostr(client):
    query = signed_query(echostr="8264829381748")
    resp = client.get("/wechat?" + urlencode(query))
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "8264829381748"


def test_url_verification_with_wrong_signature_is_refused(client):
    query = {**signed_query(echostr="abc"), "signature": "0" * 40}
    resp = client.get("/wechat?" + urlencode(query))
    assert resp.status_code == 403 and b"abc" not in resp.data


# -- the three modes -----------------------------------------------------------------------------

def test_plain_mode_text_gets_a_text_reply(chat):
    assert "职工之家可以帮您" in chat.say("菜单")


def test_safe_mode_round_trip(make_app):
    app = make_app(WECHAT_AES_KEY=AES_KEY)
    sim = WeChatSim(app.test_client(), app.config, openid="o_safe", encrypt=True)
    resp = sim.post(sim.xml("text", {"Content": "菜单"}))
    envelope = xmltodict.parse(resp.data)["xml"]
    assert set(envelope) >= {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert "职工之家可以帮您" in sim.reply_of(resp)


def test_compatible_mode_uses_the_encrypted_copy_and_encrypts_the_reply(make_app):
    app = make_app(WECHAT_AES_KEY=AES_KEY)
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    ts, nonce = str(int(time.time())), "compat"
    inner = text_xml("菜单", msg_id="3001", sender="o_compat")
    encrypt = xmltodict.parse(crypto.encrypt_message(inner, nonce, ts))["xml"]
    # Compatible mode: the plaintext fields and the Encrypt element travel together.
    body = inner.replace("</xml>", f"<Encrypt><![CDATA[{encrypt['Encrypt']}]]></Encrypt></xml>")
    resp = post(app.test_client(), body, **signed_query(ts, nonce, encrypt_type="aes",
                                                          msg_signature=encrypt["MsgSignature"]))
    assert resp.status_code == 200
    reply = xmltodict.parse(resp.data)["xml"]
    plain = crypto.decrypt_message(reply, reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"])
    assert "职工之家可以帮您" in plain


def test_plain_messages_are_still_accepted_when_a_key_is_set(make_app):
    app = make_app(WECHAT_AES_KEY=AES_KEY)
    sim = WeChatSim(app.test_client(), app.config, openid="o_plain", encrypt=False)
    assert "职工之家" in sim.say("菜单")


# -- forged requests -----------------------------------------------------------------------------

def aes_app_and_envelope(make_app, inner=None, nonce="nonce1"):
    app = make_app(WECHAT_AES_KEY=AES_KEY)
    ts = str(int(time.time()))
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    env = xmltodict.parse(crypto.encrypt_message(inner or text_xml(), nonce, ts))["xml"]
    return app, ts, env


@pytest.mark.parametrize("case", ["missing", "wrong"])
def test_bad_signature_is_refused(app, case):
    query = signed_query()
    query.pop("signature") if case == "missing" else query.update(signature="f" * 40)
    resp = post(app.test_client(), text_xml(), **query)
    assert resp.status_code == 403 and b"<xml" not in resp.data
    still_serving(app)


@pytest.mark.parametrize("age", [3600, -3600])
def test_stale_or_future_timestamp_is_refused(app, age):
    resp = post(app.test_client(), text_xml(), **signed_query(int(time.time()) - age))
    assert resp.status_code == 403
    still_serving(app)


def test_timestamp_window_is_configurable(make_app):
    app = make_app(TIMESTAMP_WINDOW=10)
    assert post(app.test_client(), text_xml(), **signed_query(int(time.time()) - 60)).status_code == 403


def test_wrong_msg_signature_is_refused(make_app):
    app, ts, env = aes_app_and_envelope(make_app)
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
    resp = post(app.test_client(), body, **signed_query(ts, "nonce1", encrypt_type="aes", msg_signature="0" * 40))
    assert resp.status_code == 403
    still_serving(app)


def encrypted_post(app, ts, encrypt, nonce="nonce1"):
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return post(app.test_client(), body, **signed_query(ts, nonce, encrypt_type="aes",
                                                          msg_signature=sign(TOKEN, ts, nonce, encrypt)))


def test_wrong_app_id_is_refused(make_app):
    app = make_app(WECHAT_AES_KEY=AES_KEY)
    ts = str(int(time.time()))
    other = WeChatCrypto(TOKEN, AES_KEY, "wx_another_account")
    env = xmltodict.parse(other.encrypt_message(text_xml(), "nonce1", ts))["xml"]
    assert encrypted_post(app, ts, env["Encrypt"]).status_code == 400
    still_serving(app)


@pytest.mark.parametrize("encrypt", [
    "not base64 at all!!!",                                  # not base64
    base64.b64encode(b"x" * 20).decode(),                    # not a whole AES block
    base64.b64encode(b"x" * 32).decode(),                    # whole blocks, garbage inside
    "",                                                      # empty
])
def test_bad_ciphertext_is_refused(make_app, encrypt):
    app = make_app(WECHAT_AES_KEY=AES_KEY)
    resp = encrypted_post(app, str(int(time.time())), encrypt)
    assert resp.status_code == 400
    still_serving(app)


def test_envelope_without_encrypt_is_refused(make_app):
    app = make_app(WECHAT_AES_KEY=AES_KEY)
    resp = post(app.test_client(), text_xml(), **signed_query(encrypt_type="aes", msg_signature="0" * 40))
    assert resp.status_code == 400
    still_serving(app)


def test_encrypted_message_without_a_configured_key_is_refused(make_app):
    _, ts, env = aes_app_and_envelope(make_app)
    plain_app = make_app()
    assert encrypted_post(plain_app, ts, env["Encrypt"]).status_code == 400


# -- malformed input -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "<xml><ToUserName>gh</ToUserName><MsgType>text",                         # malformed XML
    "<message><MsgType>text</MsgType></message>",                           # wrong root element
    "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName></xml>",  # no MsgType
    "",                                                                     # empty body
    b"<xml><Content>\xff\xfe</Content></xml>",                              # invalid UTF-8
    "<xml><MsgType><a>1</a></MsgType><FromUserName>o</FromUserName><ToUserName>g</ToUserName></xml>",
    text_xml().replace("<MsgId>1001</MsgId>", "<MsgId>abc</MsgId>"),         # MsgId not a number
    text_xml().replace(str(int(time.time())), "yesterday"),                  # CreateTime not a number
], ids=["malformed", "wrong-root", "no-msgtype", "empty", "bad-utf8", "msgtype-not-text", "msgid-nan",
        "createtime-nan"])  # fixed ids: the bodies hold the time, and xdist workers must collect alike
def test_malformed_input_is_a_4xx_never_a_5xx(app, body):
    resp = post(app.test_client(), body)
    assert 400 <= resp.status_code < 500
    still_serving(app)


def test_unknown_msg_type_gets_a_safe_reply(app):
    body = text_xml().replace("<![CDATA[text]]>", "<![CDATA[hologram]]>")
    resp = post(app.test_client(), body)
    assert resp.status_code == 200
    assert "文字" in WeChatSim(app.test_client(), app.config).reply_of(resp)


def test_body_over_the_cap_is_413(make_app):
    app = make_app(MAX_BODY_BYTES=2048)
    resp = post(app.test_client(), text_xml("工" * 2000))
    assert resp.status_code == 413
    still_serving(app)


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o_bomb</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"""

XXE = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o_xxe</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"""


@pytest.mark.parametrize("payload", [BOMB, XXE], ids=["entity-bomb", "xxe"])
def test_dtd_payloads_are_refused_unexpanded(app, db_session, payload):
    started = time.perf_counter()
    resp = post(app.test_client(), payload)
    assert resp.status_code == 400
    assert b"root:" not in resp.data and b"lol" not in resp.data
    assert time.perf_counter() - started < 5  # nothing was expanded
    assert db_session.scalar(select(func.count()).select_from(Message)) == 0
    still_serving(app)


def test_dtd_inside_the_encrypted_payload_is_refused(make_app):
    app, ts, env = aes_app_and_envelope(make_app, inner=XXE)
    assert encrypted_post(app, ts, env["Encrypt"]).status_code == 400


def test_worker_text_containing_cdata_end_cannot_break_the_reply(chat):
    label = "车间]]><MsgType>hack</MsgType>门口"
    reply = chat.send("location", {"Location_X": "39.9", "Location_Y": "116.4", "Scale": "15", "Label": label})
    assert label in reply


# -- exactly once ----------------------------------------------------------------------------------

def test_a_message_delivered_three_times_is_processed_once(app, db_session):
    sim = WeChatSim(app.test_client(), app.config, openid="o_retry")
    xml = sim.xml("text", {"Content": "法律援助"}, msg_id=987654321)
    replies = [sim.reply_of(sim.post(xml)) for _ in range(3)]
    assert replies[0] == replies[1] == replies[2] and "哪类问题" in replies[0]
    rows = db_session.scalars(select(Message).order_by(Message.id)).all()
    assert [(m.direction, m.kind) for m in rows] == [("in", "text"), ("out", "reply")]


def test_events_are_deduplicated_by_sender_and_create_time(app, db_session):
    sim = WeChatSim(app.test_client(), app.config, openid="o_evt")
    xml = sim.xml("event", {"Event": "subscribe"}, create_time=1700000000)
    first, again = (sim.reply_of(sim.post(xml)) for _ in range(2))
    assert first == again and "欢迎" in first
    assert db_session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1


def test_every_message_is_logged_per_worker(make_chat, db_session):
    a, b = make_chat("o_a"), make_chat("o_b")
    a.say("菜单")
    b.say("你好")
    a.say("取消")
    rows = db_session.scalars(select(Message).order_by(Message.id)).all()
    by_worker = {}
    for m in rows:
        by_worker.setdefault(m.worker.openid, []).append((m.direction, m.content[:2]))
    assert by_worker["o_a"][0] == ("in", "菜单") and len(by_worker["o_a"]) == 4
    assert len(by_worker["o_b"]) == 2


def test_a_retry_of_a_message_whose_handler_read_the_log_gets_the_same_reply(app, db_session):
    # 转人工 copies the recent conversation, the current message included, into the escalation, so
    # the inbound row is written before its reply exists; the reply is stored afterwards.
    sim = WeChatSim(app.test_client(), app.config, openid="o_retry_handoff")
    sim.reply_of(sim.post(sim.xml("text", {"Content": "公司拖欠工资怎么办"}, msg_id=555000001)))
    xml = sim.xml("text", {"Content": "转人工"}, msg_id=555000002)
    first, again = (sim.reply_of(sim.post(xml)) for _ in range(2))
    assert first == again and "人工服务" in first
    inbound = db_session.scalars(select(Message).where(Message.dedupe_key == "msg:555000002")).one()
    assert inbound.reply_xml and "人工服务" in inbound.reply_xml
    escalation = db_session.scalars(select(Escalation)).one()
    assert [t["content"] for t in escalation.transcript if t["direction"] == "in"] == ["公司拖欠工资怎么办", "转人工"]
    assert db_session.scalar(select(func.count()).select_from(Message)) == 4  # 2 in, 2 out: nothing twice
