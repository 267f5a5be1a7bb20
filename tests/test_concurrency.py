"""Many workers at once through a real HTTP server on loopback: no application lost or doubled."""
from __future__ import annotations

import logging
import threading
import time

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bot.extensions import db
from bot.models import Consent, Dialog, MembershipApplication, Message, Worker
from bot.services import crypto
from bot.simulator import WeChatSim
from tests.test_flow_membership import with_check_digit
from tests.support import run_together

WORKERS = 50
SURNAMES = "赵钱孙李周吴郑王冯陈"
GIVEN = "伟芳娜敏静丽强磊军洋"


class HttpClient:
    """What WeChatSim needs of a client – .post(path, data=, headers=) – over real HTTP."""

    def __init__(self, base_url: str):
        self.base_url, self.session = base_url, requests.Session()

    def post(self, path, data=None, headers=None):
        return self.session.post(self.base_url + path, data=data, headers=headers, timeout=30)


@pytest.fixture
def server(app):
    """The app behind werkzeug's threaded server: a thread per request, as in production."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def person(i: int) -> dict:
    return {"openid": f"o_concurrent_{i:02d}", "name": SURNAMES[i % 10] + GIVEN[i // 10 % 10] + GIVEN[i % 10],
            "id": with_check_digit(f"11010519900101{i:03d}"), "phone": f"139{i:08d}"}


def answers(p: dict, i: int) -> list[str]:
    return ["1", p["name"], p["id"], p["phone"], f"北京第{i + 1}物流有限公司", str(i % 3 + 1),
            str(i % 16 + 1), str(i % 10 + 1)]


@pytest.mark.slow
def test_fifty_workers_apply_at_once(app, server):
    people = [person(i) for i in range(WORKERS)]
    replies: dict[str, list[str]] = {}
    start = threading.Barrier(WORKERS)
    began = time.monotonic()

    def apply(i):
        p, sim = people[i], WeChatSim(HttpClient(server), app.config, openid=people[i]["openid"])
        start.wait()  # everyone clicks 入会申请 at the same moment
        said = [sim.event("CLICK", "MEMBERSHIP")]
        said += [sim.say(text) for text in answers(p, i)]
        said.append(sim.say("提交"))
        replies[p["openid"]] = said

    run_together(WORKERS, apply)
    assert time.monotonic() - began < 60

    for i, p in enumerate(people):
        said = replies[p["openid"]]
        assert "回复 1 同意" in said[0] and "请核对" in said[-2], said
        assert "已提交" in said[-1], (p["openid"], said)
        assert crypto.mask_id_number(p["id"]) in said[-2] and p["id"] not in said[-2]
    with app.app_context():
        rows = db.session.scalars(select(MembershipApplication)).all()
        assert len(rows) == WORKERS
        by_openid = {row.worker.openid: row for row in rows}
        assert set(by_openid) == {p["openid"] for p in people}
        for i, p in enumerate(people):
            row = by_openid[p["openid"]]
            assert (row.name, row.phone, row.status) == (p["name"], p["phone"], "pending")
            assert row.id_number_hash == crypto.keyed_hash(p["id"])
            assert crypto.decrypt(row.id_number_encrypted) == p["id"]
        assert db.session.scalar(select(func.count()).select_from(Consent)) == WORKERS
        dialogs = db.session.scalars(select(Dialog)).all()
        assert len(dialogs) == WORKERS and all(d.flow is None and d.slots == {} for d in dialogs)
        inbound = db.session.execute(select(Worker.openid, func.count()).join(Message, Message.worker_id == Worker.id)
                                     .where(Message.direction == "in").group_by(Worker.openid)).all()
        assert dict(inbound) == {p["openid"]: 10 for p in people}  # every message handled exactly once
        db.session.remove()


def test_workers_submitting_one_id_number_at_once_get_one_application(app, server):
    n, shared_id = 8, with_check_digit("11010819850505432")
    ready, final = threading.Barrier(n), {}

    def apply(i):
        p = {**person(i), "id": shared_id}
        sim = WeChatSim(HttpClient(server), app.config, openid=p["openid"])
        assert "同意" in sim.event("CLICK", "MEMBERSHIP")
        for text in answers(p, i):
            sim.say(text)
        ready.wait()  # all at the confirmation with the same (still unused) ID number
        final[p["openid"]] = sim.say("提交")

    run_together(n, apply)
    winners = [o for o, reply in final.items() if "已提交" in reply]
    refused = [o for o, reply in final.items() if "已经提交过入会申请" in reply]
    assert len(winners) == 1 and len(refused) == n - 1, final
    with app.app_context():
        row = db.session.scalars(select(MembershipApplication)).one()
        assert row.worker.openid == winners[0]
        assert all(d.flow is None for d in db.session.scalars(select(Dialog)))
        db.session.remove()
