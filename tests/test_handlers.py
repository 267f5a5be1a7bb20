"""Every kind of message and event WeChat can send gets a sensible reply (or none), never an error."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.dispatch import Dispatcher, Handlers
from bot.models import DeliveryReceipt, Outbox, Worker


def worker(db_session, openid="o_worker_1"):
    db_session.expire_all()
    return db_session.scalars(select(Worker).where(Worker.openid == openid)).one()


def test_text_goes_to_the_dialog_engine(chat):
    assert "职工之家可以帮您" in chat.say("帮助")


def test_voice_with_recognition_is_treated_as_text(chat):
    assert "哪类问题" in chat.send("voice", {"MediaId": "m1", "Format": "amr", "Recognition": "法律援助。"})


def test_voice_without_recognition_asks_for_text(chat):
    assert "用文字" in chat.send("voice", {"MediaId": "m1", "Format": "amr"})


def test_location_message_is_acknowledged(chat):
    reply = chat.send("location", {"Location_X": "39.9", "Location_Y": "116.4", "Scale": "15", "Label": "朝阳区"})
    assert "朝阳区" in reply


@pytest.mark.parametrize("kind,fields", [
    ("image", {"PicUrl": "http://example.invalid/a.jpg", "MediaId": "m"}),
    ("video", {"MediaId": "m", "ThumbMediaId": "t"}),
    ("shortvideo", {"MediaId": "m", "ThumbMediaId": "t"}),
    ("link", {"Title": "t", "Description": "d", "Url": "http://example.invalid"}),
])
def test_media_gets_a_polite_i_can_read_text(chat, kind, fields):
    assert "只能看懂文字" in chat.send(kind, fields)


def test_subscribe_welcomes_and_shows_the_menu(chat, db_session):
    reply = chat.event("subscribe")
    assert "欢迎关注" in reply and "入会申请" in reply
    assert worker(db_session).subscribed is True


def test_qrscene_subscribe_records_the_scene(chat, db_session):
    assert "欢迎关注" in chat.event("subscribe", "qrscene_factory42")
    assert worker(db_session).scene == "factory42"


def test_unsubscribe_marks_the_worker_and_says_nothing(chat, db_session):
    chat.event("subscribe")
    assert chat.event("unsubscribe") == ""
    w = worker(db_session)
    assert w.subscribed is False and w.unsubscribed_at is not None


def test_scan_by_a_follower_records_the_scene(chat, db_session):
    assert "职工之家可以帮您" in chat.event("SCAN", "site7")
    assert worker(db_session).scene == "site7"


@pytest.mark.parametrize("key,expected", [
    ("LEGAL_AID", "哪类问题"),
    ("MENU", "职工之家可以帮您"),
    ("HANDOFF", "人工服务"),
    ("LEGAL", "直接输入"),
    ("NO_SUCH_KEY", "职工之家可以帮您"),
])
def test_menu_clicks(chat, key, expected):
    assert expected in chat.event("CLICK", key)


@pytest.mark.parametrize("event", ["VIEW", "LOCATION", "scancode_push", "pic_sysphoto", "pic_photo_or_album",
                                   "pic_weixin", "location_select", "MASSSENDJOBFINISH", "no_such_event"])
def test_silent_events_get_an_empty_success(chat, event):
    assert chat.event(event, "k") == ""
    assert chat.sim.last_response.status_code == 200


def test_scancode_waitmsg_asks_for_text(chat):
    assert "文字" in chat.event("scancode_waitmsg", "scan1")


def test_template_delivery_receipt_is_recorded(chat, db_session):
    chat.event("subscribe")
    w = worker(db_session)
    db_session.add(Outbox(worker_id=w.id, kind="template", payload={}, dedupe_key="t1", status="sent",
                          wechat_msg_id="200163836"))
    db_session.commit()
    assert chat.send("event", {"Event": "TEMPLATESENDJOBFINISH", "MsgID": "200163836",
                               "Status": "failed:user block"}) == ""
    db_session.expire_all()
    receipt = db_session.scalars(select(DeliveryReceipt)).one()
    assert (receipt.wechat_msg_id, receipt.status) == ("200163836", "failed:user block")
    assert db_session.scalars(select(Outbox)).one().delivery_status == "failed:user block"


def test_a_key_registered_twice_is_an_error():
    a, b = Handlers(), Handlers()
    a.message("text")(lambda m, c: "a")
    b.message("text")(lambda m, c: "b")
    with pytest.raises(ValueError, match="text"):
        Dispatcher([a, b])


def test_two_different_menu_clicks_in_the_same_second_are_both_handled(chat):
    first = chat.send("event", {"Event": "CLICK", "EventKey": "MENU"}, create_time=1700000000)
    second = chat.send("event", {"Event": "CLICK", "EventKey": "LEGAL_AID"}, create_time=1700000000)
    assert "职工之家可以帮您" in first and "哪类问题" in second
