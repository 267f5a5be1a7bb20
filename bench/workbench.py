"""How fast the staff workbench's pages answer on a busy database (in-process, Flask test client).

    .venv/bin/python bench/workbench.py                      # 6,000 workers, 1,000 hand-offs, 5,000 applications
    .venv/bin/python bench/workbench.py --workers 10000 --repeat 30

Seeds a fresh SQLite database in a temp dir (the real migrations), logs one admin in, then times
each page `--repeat` times and prints the median and the slowest, in milliseconds. The pages that
open pages poll (inbox rows, conversation, presence) matter most: every open tab asks every
STAFF_POLL_SECONDS.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from bot.clock import now  # noqa: E402
from bot.extensions import db  # noqa: E402
from bot.models import Escalation, MembershipApplication, Message, Worker  # noqa: E402
from bot.services import crypto, staff  # noqa: E402

DISTRICTS, INDUSTRIES = ["朝阳区", "海淀区", "东城区", "丰台区"], ["快递物流", "外卖配送", "建筑业", "制造业"]
REASONS = ["asked", "not_helpful", "flagged_checkin", "invalid_input"]


def seed(workers: int, escalations: int, applications: int, messages: int) -> None:
    rng, start = random.Random(7), now() - timedelta(days=30)
    db.session.execute(Worker.__table__.insert(), [
        {"openid": f"o_bench_{i:06d}", "subscribed": True, "owner": "bot", "created_at": start,
         "last_seen_at": start + timedelta(minutes=i)} for i in range(1, workers + 1)])
    db.session.execute(Message.__table__.insert(), [
        {"worker_id": 1 + i % workers, "direction": "in" if i % 2 else "out", "kind": "text",
         "content": f"第 {i} 条消息：公司拖欠工资怎么办", "created_at": start + timedelta(seconds=i)}
        for i in range(workers * messages)])
    db.session.execute(Escalation.__table__.insert(), [
        {"worker_id": 1 + i, "reason": REASONS[i % 4], "status": "open" if i % 3 else "closed", "transcript": [],
         "created_at": start + timedelta(hours=i % 700), "closed_at": None if i % 3 else now(),
         "closed_by": None if i % 3 else "bench", "rating": None if i % 3 else 1 + i % 5}
        for i in range(escalations)])
    masked = "110105********002X"
    db.session.execute(MembershipApplication.__table__.insert(), [
        {"worker_id": 1 + i, "name": f"职工{i}", "phone": f"138{i:08d}", "id_number_encrypted": crypto.encrypt(f"id{i}"),
         "id_number_hash": f"h{i}", "id_number_masked": masked, "employer": f"第{i % 97}物流公司",
         "employer_has_union": "no", "district": rng.choice(DISTRICTS), "industry": rng.choice(INDUSTRIES),
         "status": "pending", "created_at": start + timedelta(minutes=i), "updated_at": start}
        for i in range(applications)])
    db.session.commit()


def timed(call, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:300])
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=6000)
    parser.add_argument("--escalations", type=int, default=1000)
    parser.add_argument("--applications", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=20, help="per worker")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="workbench-bench-")) / "bench.sqlite"
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade()
        t = time.perf_counter()
        seed(args.workers, min(args.escalations, args.workers), min(args.applications, args.workers), args.messages)
        _, password = staff.create(db.session, "bench", "压测", "admin")
        db.session.commit()
        print(f"seeded {args.workers} workers, {args.workers * args.messages} messages, "
              f"{min(args.escalations, args.workers)} hand-offs, {min(args.applications, args.workers)} applications "
              f"in {time.perf_counter() - t:.1f} s")
    client = app.test_client()
    assert client.post("/staff/login", data={"login": "bench", "password": password}).status_code == 302
    case = 2  # an open hand-off
    pages = [
        ("inbox, 未分配 tab (page)", lambda: client.get("/staff/inbox")),
        ("inbox rows + counts (polled)", lambda: client.get("/staff/inbox/rows?tab=unassigned")),
        ("inbox, 已结案 tab", lambda: client.get("/staff/inbox?tab=closed")),
        ("conversation page", lambda: client.get(f"/staff/inbox/{case}")),
        ("conversation timeline (polled)", lambda: client.get(f"/staff/inbox/{case}/timeline")),
        ("presence report (polled, a write)", lambda: client.post(f"/staff/inbox/{case}/presence", data={"typing": "0"})),
        ("applications, all (latest 500)", lambda: client.get("/staff/applications")),
        ("applications, filtered", lambda: client.get("/staff/applications?district=海淀区&industry=建筑业")),
        ("applications, search", lambda: client.get("/staff/applications?q=第42物流")),
        ("export XLSX of all applications", lambda: client.post("/staff/applications/export.xlsx")),
        ("audit log", lambda: client.get("/staff/audit")),
    ]
    print(f"{'page':40} {'median ms':>10} {'max ms':>8}   ({args.repeat} requests each)")
    for name, call in pages:
        repeat = max(3, args.repeat // 5) if "export" in name else args.repeat
        median, slowest = timed(call, repeat)
        print(f"{name:40} {median:10.1f} {slowest:8.1f}")
    print("rows in the inbox page:", len(re.findall(r"data-escalation=", client.get("/staff/inbox").get_data(as_text=True))))


if __name__ == "__main__":
    main()
