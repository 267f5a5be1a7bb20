"""Staff exports (`flask export …`): membership, home office, legal aid and escalations as CSV or XLSX.

Column headers are Chinese, times are Beijing time, CSV is UTF-8 with a BOM so Excel opens it,
and ID numbers are masked unless --unmasked is given (confirmed, a 0600 file, an audit row). Cells
a spreadsheet would run as a formula (text a worker typed that starts with = + - @) are written as
plain text.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from bot.clock import LOCAL_TZ, aware
from bot.masking import mask
from bot.models import (Escalation, HealthCheckin, HomeOfficeRegistration, LegalAidBooking, LegalAidSlot,
                        MembershipApplication)

STATUS = {
    "membership": {"pending": "待审核", "approved": "已通过", "rejected": "未通过", "withdrawn": "已撤回"},
    "registration": {"active": "报备中", "ended": "已结束"},
    "booking": {"booked": "已预约", "cancelled": "已取消", "attended": "已到场", "no_show": "未到场"},
    "escalation": {"open": "处理中", "closed": "已结束"},
}
HAS_UNION = {"yes": "有", "no": "没有", "unsure": "不清楚"}
REASONS = {"asked": "职工要求转人工", "not_helpful": "自动回答没解决", "flagged_checkin": "健康打卡异常",
           "invalid_input": "多次输入无效", "staff_contact": "工作人员主动联系"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Sheet:
    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)


def when(value) -> str:
    """Beijing time, to the minute: 2022-05-20 10:00."""
    return aware(value).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def day(value) -> str:
    return value.isoformat() if value else ""


def yes_no(value) -> str:
    return "" if value is None else ("是" if value else "否")


def id_number(app: MembershipApplication, unmasked: bool) -> str:
    if not unmasked:
        return app.id_number_masked
    from bot.services.crypto import decrypt

    return decrypt(app.id_number_encrypted)


def applicants(session) -> dict[int, MembershipApplication]:
    """worker id → their membership application: the only place a name and phone are on record."""
    return {a.worker_id: a for a in session.scalars(select(MembershipApplication))}


# -- datasets ----------------------------------------------------------------------------------

def masked(sheets: list[Sheet], unmasked: bool) -> list[Sheet]:
    """Every ID-number-like and mobile-number-like run in every cell masked (bot.masking), unless the
    export was asked for unmasked (then the file is 0600 and audited)."""
    if not unmasked:
        for sheet in sheets:
            sheet.rows = [[mask(v) if isinstance(v, str) else v for v in row] for row in sheet.rows]
    return sheets


def membership(session, unmasked: bool = False, single: bool = False,
               applications: list[MembershipApplication] | None = None) -> list[Sheet]:
    """All applications, or the given ones (the workbench's filtered list) in their order."""
    if applications is None:
        applications = session.scalars(select(MembershipApplication).order_by(MembershipApplication.id))
    sheet = Sheet("入会申请", ["申请编号", "姓名", "手机号", "身份证号", "工作单位", "单位是否有工会", "所在区", "行业",
                           "状态", "转交单位", "未通过原因", "审核人", "审核时间", "提交时间", "更新时间"])
    for a in applications:
        sheet.rows.append([a.id, a.name, a.phone, id_number(a, unmasked), a.employer,
                           HAS_UNION.get(a.employer_has_union, a.employer_has_union), a.district, a.industry,
                           STATUS["membership"].get(a.status, a.status), a.routed_to or "", a.reject_reason or "",
                           a.decided_by or "", when(a.decided_at), when(a.created_at), when(a.updated_at)])
    return masked([sheet], unmasked)


REGISTRATION = ["报备编号", "姓名", "手机号", "工作单位", "街道/社区", "居住地址", "开始日期", "结束日期",
                "已向社区报备", "报备状态", "报备时间"]
CHECKIN = ["打卡编号", "打卡日期", "体温", "症状", "核酸结果", "检测日期", "所在位置", "定位", "异常", "打卡时间"]


def _registration(r: HomeOfficeRegistration | None, people: dict) -> list:
    if r is None:
        return [""] * len(REGISTRATION)
    person = people.get(r.worker_id)
    return [r.id, person.name if person else "", person.phone if person else "", r.employer, r.community,
            r.address, day(r.start_date), day(r.end_date), yes_no(r.reported_to_community),
            STATUS["registration"].get(r.status, r.status), when(r.created_at)]


def _checkin(c: HealthCheckin) -> list:
    loc = c.location or {}
    place = loc.get("label") or (f"{loc.get('lat')},{loc.get('lng')}" if loc else "")
    return [c.id, day(c.day), c.temperature, "、".join(c.symptoms or []) or "无", c.test_result or "",
            day(c.test_date), c.whereabouts, place, yes_no(c.flagged), when(c.created_at)]


def home_office(session, unmasked: bool = False, single: bool = False) -> list[Sheet]:
    """Two sheets (报备, 打卡); as one table (CSV) each check-in carries its registration's columns."""
    people = applicants(session)
    registrations = session.scalars(select(HomeOfficeRegistration).order_by(HomeOfficeRegistration.id)).all()
    checkins = session.scalars(select(HealthCheckin).order_by(HealthCheckin.day, HealthCheckin.id)).all()
    if single:
        by_id = {r.id: r for r in registrations}
        sheet = Sheet("居家办公报备与打卡", REGISTRATION + CHECKIN)
        used = set()
        for c in sorted(checkins, key=lambda c: (c.registration_id or 0, c.day, c.id)):
            used.add(c.registration_id)
            sheet.rows.append(_registration(by_id.get(c.registration_id), people) + _checkin(c))
        sheet.rows += [_registration(r, people) + [""] * len(CHECKIN) for r in registrations if r.id not in used]
        sheet.rows.sort(key=lambda row: (row[0] or 0, row[len(REGISTRATION) + 1]))
        return masked([sheet], unmasked)
    regs = Sheet("居家办公报备", REGISTRATION, [_registration(r, people) for r in registrations])
    checks = Sheet("每日健康打卡", ["报备编号", "姓名", "手机号"] + CHECKIN)
    for c in checkins:
        person = people.get(c.worker_id)
        checks.rows.append([c.registration_id or "", person.name if person else "", person.phone if person else "",
                            *_checkin(c)])
    return masked([regs, checks], unmasked)


def legal_aid(session, unmasked: bool = False, single: bool = False) -> list[Sheet]:
    people = applicants(session)
    sheet = Sheet("法律援助预约", ["预约编号", "姓名", "手机号", "问题类别", "情况描述", "咨询日期", "咨询时间",
                             "咨询地点", "状态", "提交时间", "取消时间"])
    query = (select(LegalAidBooking, LegalAidSlot).outerjoin(LegalAidSlot, LegalAidBooking.slot_id == LegalAidSlot.id)
             .order_by(LegalAidSlot.starts_at, LegalAidBooking.id))
    for b, slot in session.execute(query):
        person = people.get(b.worker_id)
        hours = (f"{when(slot.starts_at)[-5:]}–{when(slot.ends_at)[-5:]}" if slot else "")
        sheet.rows.append([b.id, person.name if person else "", b.phone or (person.phone if person else ""),
                           b.topic, b.facts, day(b.day), hours, slot.place if slot else "",
                           STATUS["booking"].get(b.status, b.status), when(b.created_at), when(b.cancelled_at)])
    return masked([sheet], unmasked)


def escalations(session, unmasked: bool = False, single: bool = False) -> list[Sheet]:
    people = applicants(session)
    sheet = Sheet("转人工记录", ["编号", "姓名", "微信用户", "原因", "说明", "状态", "发起时间", "最后一条消息",
                            "最后消息时间", "结束时间", "结束方", "负责人", "首次回复时间", "职工评分"])
    for e in session.scalars(select(Escalation).order_by(Escalation.id)):
        person = people.get(e.worker_id)
        said = [m for m in e.transcript or [] if m.get("direction") == "in"]
        last = said[-1] if said else {}
        last_at = when(datetime.fromisoformat(last["at"])) if last.get("at") else ""
        closed_by = {"worker": "职工"}.get(e.closed_by, e.closed_by or "")
        sheet.rows.append([e.id, person.name if person else "", e.worker.openid if e.worker else "",
                           REASONS.get(e.reason, e.reason), e.detail or "", STATUS["escalation"].get(e.status, e.status),
                           when(e.created_at), last.get("content", ""), last_at, when(e.closed_at), closed_by,
                           e.assigned_to.name if e.assigned_to else "", when(e.first_response_at), e.rating or ""])
    return masked([sheet], unmasked)


DATASETS = {"membership": membership, "home-office": home_office, "legal-aid": legal_aid, "escalations": escalations}


# -- writers -----------------------------------------------------------------------------------

def as_text(value):
    """Worker-typed text that a spreadsheet would run as a formula is kept as text (CSV: a leading ')."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(sheets: list[Sheet], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as f:  # the BOM tells Excel it is UTF-8
        _csv_rows(sheets, f)


def _csv_rows(sheets: list[Sheet], f) -> None:
    (sheet,) = sheets
    writer = csv.writer(f)
    writer.writerow(sheet.headers)
    writer.writerows([as_text(v) for v in row] for row in sheet.rows)


def to_bytes(sheets: list[Sheet], fmt: str) -> bytes:
    """The file's bytes, for a download (CSV: UTF-8 with a BOM, as `write_csv`)."""
    if fmt == "csv":
        text = io.StringIO()
        _csv_rows(sheets, text)
        return "\ufeff".encode() + text.getvalue().encode("utf-8")
    data = io.BytesIO()
    write_xlsx(sheets, data)
    return data.getvalue()


def write_xlsx(sheets: list[Sheet], path: str | Path) -> None:
    from openpyxl import Workbook  # imported when a workbook is made: ~0.5 s off every start
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:31])
        ws.append(sheet.headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r, row in enumerate(sheet.rows, 2):
            for c, value in enumerate(row, 1):
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"  # openpyxl would store it as a formula
        ws.freeze_panes = "A2"
        for c, header in enumerate(sheet.headers, 1):
            longest = max([len(str(header)) * 2, *(len(str(row[c - 1])) for row in sheet.rows[:200])])
            ws.column_dimensions[ws.cell(row=1, column=c).column_letter].width = min(max(longest + 2, 8), 60)
    book.save(path)


def export(session, dataset: str, fmt: str, out: str | Path, unmasked: bool = False) -> int:
    """Write one dataset; returns the number of data rows written. With full ID numbers the file is
    readable by its owner only (0600), from its creation on."""
    sheets = DATASETS[dataset](session, unmasked=unmasked, single=(fmt == "csv"))
    if unmasked:
        private_file(out)
    (write_csv if fmt == "csv" else write_xlsx)(sheets, out)
    return sum(len(s.rows) for s in sheets)


def private_file(path: str | Path) -> None:
    """Create (or empty) the file with mode 0600 before anything is written to it; an existing file
    keeps its mode when reopened, so it is set here too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
