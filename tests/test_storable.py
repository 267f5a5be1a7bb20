"""Values PostgreSQL cannot store (NaN / ±Infinity in JSON, NUL in text) never reach the database.

These run on both backends; on PostgreSQL (the second pass of `make test`) each of them failed with
the busy apology before the guards: SQLite stored non-standard JSON and NUL characters silently.
"""
from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from bot.models import AuditLog, Dialog, HealthCheckin, Message, RouteLog, Worker

LABEL = "北京市朝阳区花家地西里"


def check_in_at_whereabouts(chat, clock):
    """Register for home office, then answer today's check-in up to the whereabouts step."""
    clock.set("2022-05-23 09:00")
    chat.event("CLICK", "HOME_OFFICE")
    chat.expect(("1", "工作单位"), ("北京市某某科技有限公司", "街道和社区"), ("朝阳区望京街道花家地社区", "居住地址"),
                ("花家地西里3号楼2单元501", "哪天开始"), ("今天", "哪天结束"), ("5月29日", "报到"), ("1", "请确认"),
                ("1", "报备成功"), ("打卡", "体温"), ("36.5", "症状"), ("6", "核酸"), ("3", "发送「位置」"))


@pytest.mark.parametrize(("x", "y"), [("NaN", "NaN"), ("inf", "-inf"), ("Infinity", "1e999"), ("95.5", "-200")],
                         ids=["nan", "inf", "infinity", "out-of-range"])
def test_a_location_with_impossible_coordinates_still_checks_in(chat, clock, db_session, x, y):
    check_in_at_whereabouts(chat, clock)
    reply = chat.send("location", {"Location_X": x, "Location_Y": y, "Scale": "15", "Label": LABEL})
    assert "打卡成功" in reply and LABEL in reply, chat.format_transcript()
    checkin = db_session.scalars(select(HealthCheckin)).one()
    assert checkin.whereabouts == LABEL
    assert checkin.location == {"label": LABEL, "lat": None, "lng": None}  # stored as null, not NaN


def test_a_location_without_a_label_keeps_its_good_coordinates(chat, clock, db_session):
    check_in_at_whereabouts(chat, clock)
    assert "打卡成功" in chat.send("location", {"Location_X": "39.98", "Location_Y": "NaN", "Scale": "15", "Label": ""})
    location = db_session.scalars(select(HealthCheckin.location)).one()
    assert (location["lat"], location["lng"]) == (39.98, None)


def test_nul_characters_and_nan_never_reach_the_database(app, db_session):
    """Every writer at once: the ORM, the message log's Core executemany, JSON columns, the audit trail."""
    from bot import audit, message_log

    worker = Worker(openid="o_nul\x00")
    db_session.add(worker)
    db_session.flush()
    message_log.record(db_session, worker.id, "in", "text", "公司\x00拖欠工资", dedupe_key="msg:\x001")
    db_session.add(RouteLog(worker_id=worker.id, text="加班\x00费", decision="fallback"))
    db_session.add(Dialog(worker_id=worker.id, slots={"facts": "三个月\x00没发", "lat": math.nan, "n": [math.inf]},
                          context={}, failures=0))
    audit.record(db_session, "cli", "export.unmasked", file="a\x00b.csv", ratio=-math.inf)
    db_session.commit()
    db_session.expire_all()
    assert db_session.scalars(select(Worker.openid)).one() == "o_nul"
    assert db_session.execute(select(Message.content, Message.dedupe_key)).one() == ("公司拖欠工资", "msg:1")
    assert db_session.scalars(select(RouteLog.text)).one() == "加班费"
    assert db_session.scalars(select(Dialog.slots)).one() == {"facts": "三个月没发", "lat": None, "n": [None]}
    assert db_session.scalars(select(AuditLog.detail)).one() == {"file": "ab.csv", "ratio": None}


def test_a_nul_cannot_arrive_in_a_wechat_message(chat, db_session):
    """XML 1.0 has no NUL character, raw or as &#0;: the webhook's parser refuses the body (400), so
    no worker text from WeChat holds one. The guards above are for every other writer."""
    plain = chat.sim.xml("text", {"Content": "你好"}).replace("<![CDATA[你好]]>", "你好")  # no CDATA: &#0; is a reference
    for body in (chat.sim.xml("text", {"Content": "你好\x00"}), plain.replace("你好", "你好&#0;")):
        assert chat.sim.post(body).status_code == 400
    assert db_session.scalars(select(Message)).all() == []
