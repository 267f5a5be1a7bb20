"""Membership applications at /staff/applications: filters, decisions told to the worker, export, ID reveal."""
from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from bot.extensions import db
from bot.models import AuditLog, MembershipApplication, Outbox, Worker
from bot.services import membership
from tests.test_flow_membership import ID, OTHER_ID, apply

PEOPLE = [  # name, ID, employer, district, industry, phone
    ("张三", ID, "北京顺达快递有限公司", "朝阳区", "快递物流", "13812345678"),
    ("李四", OTHER_ID, "=HYPERLINK(\"x\")餐饮公司", "海淀区", "餐饮住宿", "13900001111"),
    ("王五", "110101199202020028", "海淀建工集团", "海淀区", "建筑业", "13700002222"),
]


def seed(app, clock=None) -> list[int]:
    ids = []
    with app.app_context():
        for i, (name, number, employer, district, industry, phone) in enumerate(PEOPLE):
            if clock:
                clock.set(f"2026-05-{10 + i * 5:02d} 09:00")
            worker = Worker(openid=f"o_applicant_{i}")
            db.session.add(worker)
            db.session.flush()
            ids.append(membership.submit(db.session, worker, {
                "name": name, "phone": phone, "id": membership.protect_id(number), "employer": employer,
                "has_union": "no", "district": district, "industry": industry}).id)
        db.session.commit()
    return ids


def listed(page: str) -> set[int]:
    import re

    return {int(x) for x in re.findall(r'data-application="(\d+)"', page)}


def test_filters_and_search(desk, app, clock):
    a, b, c = seed(app, clock)
    wang = desk("wang")
    assert listed(wang.page("/staff/applications")) == {a, b, c}
    assert listed(wang.page("/staff/applications?district=海淀区")) == {b, c}
    assert listed(wang.page("/staff/applications?district=海淀区&industry=建筑业")) == {c}
    assert listed(wang.page("/staff/applications?since=2026-05-14&until=2026-05-15")) == {b}
    assert listed(wang.page("/staff/applications?q=顺达")) == {a}  # employer
    assert listed(wang.page("/staff/applications?q=1390000")) == {b}  # phone
    assert listed(wang.page("/staff/applications?q=王五")) == {c}
    assert listed(wang.page(f"/staff/applications?q={ID}")) == {a}  # a whole ID number, by its keyed hash
    assert listed(wang.page("/staff/applications?q=%25")) == set()  # a LIKE wildcard is just a character
    page = wang.page("/staff/applications?since=not-a-date&district=海淀区")
    assert "日期格式不对" in page and listed(page) == {b, c}  # bad input explained, the rest still filters
    wang.post(f"/staff/applications/{a}/approve")
    assert listed(wang.page("/staff/applications?status=pending")) == {b, c}


def test_approve_queues_the_workers_notice(chat, desk, app, db_session):
    apply(chat)
    wang = desk("wang", name="王芳")
    aid = db_session.scalars(select(MembershipApplication.id)).one()
    assert "110105********209X" in wang.page(f"/staff/applications/{aid}")
    assert wang.post(f"/staff/applications/{aid}/approve").status_code == 302
    db_session.expire_all()
    application = db_session.get(MembershipApplication, aid)
    assert (application.status, application.decided_by) == ("approved", "wang")
    notice = db_session.scalars(select(Outbox).where(Outbox.purpose == "decision")).one()
    assert "已通过审核" in notice.payload["content"]
    again = wang.post(f"/staff/applications/{aid}/approve")
    assert again.status_code == 409 and "不能再审核" in again.get_data(as_text=True)


def test_reject_with_a_reason_from_the_list_or_free_text_and_the_worker_sees_it(chat, desk, db_session):
    apply(chat)
    wang = desk("wang")
    aid = db_session.scalars(select(MembershipApplication.id)).one()
    refused = wang.post(f"/staff/applications/{aid}/reject", {"reason": "__other__", "other": "  "})
    assert refused.status_code == 400 and "请选择不通过的原因" in refused.get_data(as_text=True)
    wang.post(f"/staff/applications/{aid}/reject", {"reason": "__other__", "other": "请补充单位盖章证明"})
    assert "未通过" in chat.say("我的入会进度") and "请补充单位盖章证明" in chat.transcript[-1][1]
    notice = db_session.scalars(select(Outbox).where(Outbox.purpose == "decision")).one()
    assert "请补充单位盖章证明" in notice.payload["content"]


def test_reject_reasons_come_from_the_settings_file(chat, desk, db_session, make_app, tmp_path):
    settings = tmp_path / "workbench.yaml"
    default = Path(__file__).parent.parent / "config" / "workbench.yaml"
    settings.write_text(default.read_text(encoding="utf-8").replace("已是工会会员，无需重复申请", "材料不全，请到窗口补交"),
                        encoding="utf-8")
    apply(chat)
    app = make_app(WORKBENCH_FILE=str(settings))
    from tests.support import Desk

    wang = Desk(app, "wang")
    aid = db_session.scalars(select(MembershipApplication.id)).one()
    page = wang.page(f"/staff/applications/{aid}")
    assert "材料不全，请到窗口补交" in page and "已是工会会员" not in page
    wang.post(f"/staff/applications/{aid}/reject", {"reason": "材料不全，请到窗口补交"})
    db_session.rollback()  # another app wrote it: end this session's read snapshot
    assert db_session.get(MembershipApplication, aid).reject_reason == "材料不全，请到窗口补交"
    invented = wang.post(f"/staff/applications/{aid}/reject", {"reason": "编造的原因"})
    assert invented.status_code == 400


def test_bulk_approve_skips_what_is_not_pending(desk, app):
    a, b, c = seed(app)
    wang = desk("wang")
    wang.post(f"/staff/applications/{a}/reject", {"reason": "已是工会会员，无需重复申请"})
    response = wang.post("/staff/applications/bulk-approve", {"ids": [a, b, c]}, follow_redirects=True)
    assert "已通过 2 份申请" in response.get_data(as_text=True) and "1 份不是待审核状态" in response.get_data(as_text=True)
    with app.app_context():
        assert dict(db.session.execute(select(MembershipApplication.id, MembershipApplication.status)).all()) == {
            a: "rejected", b: "approved", c: "approved"}
        assert len(db.session.scalars(select(Outbox).where(Outbox.purpose == "decision")).all()) == 3
    assert "请先勾选" in wang.post("/staff/applications/bulk-approve", {}, follow_redirects=True).get_data(as_text=True)


def test_export_of_the_filtered_list_is_masked_and_formula_safe(desk, app):
    a, b, c = seed(app)
    wang = desk("wang")
    response = wang.post("/staff/applications/export.xlsx?district=海淀区")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("申请编号", "姓名", "手机号", "身份证号")
    assert {r[0] for r in rows[1:]} == {b, c}
    assert all("*" in r[3] for r in rows[1:])
    assert sheet.cell(row=2, column=5).data_type == "s"  # =HYPERLINK… stays text, sorted newest first
    text = wang.post("/staff/applications/export.csv?q=李四").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert [r[1] for r in table[1:]] == ["李四"] and table[1][4].startswith("'=")
    with app.app_context():
        audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "application.export")).all()
        assert [(r.detail["rows"], r.detail["format"]) for r in audit] == [(2, "xlsx"), (1, "csv")]


def test_an_admin_may_reveal_the_id_number_and_it_is_audited(desk, app):
    a, _, _ = seed(app)
    boss = desk("boss", role="admin")
    assert ID not in boss.page(f"/staff/applications/{a}")
    page = boss.post(f"/staff/applications/{a}/reveal").get_data(as_text=True)
    assert ID in page and "本次查看已记录" in page
    with app.app_context():
        row = db.session.scalars(select(AuditLog).where(AuditLog.action == "application.reveal_id")).one()
        assert (row.actor, row.target_id) == ("staff:boss", str(a))
        assert ID not in str(row.detail)


def test_search_filters_in_the_service(app):
    ids = seed(app)
    with app.app_context():
        found = membership.search(db.session, membership.Filters(since=date(2000, 1, 1), q="海淀"))
        assert {x.id for x in found} == {ids[2]}
