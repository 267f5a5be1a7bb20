"""flask export: what staff take into their reports (Chinese headers, Beijing time, masked ID numbers)."""
from __future__ import annotations

import csv
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from bot.models import (Escalation, HealthCheckin, HomeOfficeRegistration, LegalAidBooking, LegalAidSlot,
                        MembershipApplication, Worker)
from bot.services import crypto

ID_NUMBER = "11010519491231002X"
MASKED = "110105********002X"
SUBMITTED = datetime(2022, 5, 20, 2, 30, tzinfo=UTC)  # 10:30 in Beijing


@pytest.fixture
def records(db_session):
    """One worker with an application, a home-office registration, check-ins, a booking and an escalation."""
    w = Worker(openid="o_export_1")
    other = Worker(openid="o_export_2")
    db_session.add_all([w, other])
    db_session.flush()
    db_session.add(MembershipApplication(
        worker_id=w.id, name="张三", phone="13812345678", id_number_encrypted=crypto.encrypt(ID_NUMBER),
        id_number_hash=crypto.keyed_hash(ID_NUMBER), id_number_masked=crypto.mask_id_number(ID_NUMBER),
        employer="=HYPERLINK(\"http://evil.example\")", employer_has_union="no", district="朝阳区",
        industry="制造业", status="pending", created_at=SUBMITTED, updated_at=SUBMITTED))
    reg = HomeOfficeRegistration(worker_id=w.id, employer="某某科技", community="八里庄街道", address="1号楼",
                                 start_date=date(2022, 5, 20), end_date=date(2022, 5, 27),
                                 reported_to_community=True, created_at=SUBMITTED)
    idle = HomeOfficeRegistration(worker_id=other.id, employer="另一家", community="望京街道", address="2号楼",
                                  start_date=date(2022, 5, 21), end_date=date(2022, 5, 22),
                                  reported_to_community=False, created_at=SUBMITTED)
    db_session.add_all([reg, idle])
    db_session.flush()
    db_session.add_all([
        HealthCheckin(worker_id=w.id, registration_id=reg.id, day=date(2022, 5, 21), temperature=37.6,
                      symptoms=["发热", "咳嗽"], whereabouts="在家", location={"label": "朝阳区八里庄", "lat": 39.9,
                                                                           "lng": 116.4},
                      flagged=True, created_at=datetime(2022, 5, 21, 0, 5, tzinfo=UTC)),
        HealthCheckin(worker_id=w.id, registration_id=reg.id, day=date(2022, 5, 20), temperature=36.5,
                      symptoms=[], whereabouts="在家", flagged=False, created_at=SUBMITTED),
    ])
    slot = LegalAidSlot(starts_at=datetime(2022, 5, 24, 6, tzinfo=UTC), ends_at=datetime(2022, 5, 24, 9, tzinfo=UTC),
                        capacity=3, place="职工法律服务中心")
    db_session.add(slot)
    db_session.flush()
    db_session.add(LegalAidBooking(worker_id=w.id, slot_id=slot.id, topic="欠薪/克扣工资", facts="三个月没发工资",
                                   day=date(2022, 5, 24), phone="13900001111", created_at=SUBMITTED))
    db_session.add(Escalation(worker_id=w.id, reason="not_helpful", status="open", created_at=SUBMITTED, transcript=[
        {"direction": "in", "kind": "text", "content": "公司拖欠工资怎么办", "at": "2022-05-20T02:29:00+00:00"},
        {"direction": "out", "kind": "reply", "content": "工资被拖欠……", "at": "2022-05-20T02:29:01+00:00"},
        {"direction": "in", "kind": "text", "content": "老板不接电话", "at": "2022-05-20T02:31:00+00:00"},
    ]))
    db_session.commit()


def export(runner, tmp_path, dataset, fmt, *extra):
    out = tmp_path / f"{dataset}.{fmt}"
    result = runner.invoke(args=["export", dataset, "--format", fmt, "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out, result


def read_csv(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads it as UTF-8
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def sheet_rows(path, title):
    sheet = load_workbook(path)[title]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return header, [dict(zip(header, r)) for r in rows]


def test_membership_xlsx_has_chinese_headers_and_masked_id(records, runner, tmp_path):
    out, result = export(runner, tmp_path, "membership", "xlsx")
    assert "1 行" in result.output
    header, rows = sheet_rows(out, "入会申请")
    assert header[:10] == ["申请编号", "姓名", "手机号", "身份证号", "工作单位", "单位是否有工会", "所在区", "行业",
                           "状态", "转交单位"]
    assert "提交时间" in header
    (row,) = rows
    assert (row["姓名"], row["手机号"], row["身份证号"]) == ("张三", "138****5678", MASKED)  # masked by default
    assert (row["单位是否有工会"], row["状态"], row["提交时间"]) == ("没有", "待审核", "2022-05-20 10:30")
    assert row["工作单位"].startswith("=HYPERLINK")  # kept as text, not turned into a formula
    assert load_workbook(out)["入会申请"]["E2"].data_type == "s"


def test_membership_csv_masked_and_unmasked(records, runner, tmp_path):
    out, _ = export(runner, tmp_path, "membership", "csv")
    (row,) = read_csv(out)
    assert row["身份证号"] == MASKED and ID_NUMBER not in out.read_text(encoding="utf-8-sig")
    assert row["工作单位"].startswith("'=HYPERLINK")  # a spreadsheet must not run a worker's text
    out, result = export(runner, tmp_path, "membership", "csv", "--unmasked", "--yes")
    assert (read_csv(out)[0]["身份证号"], read_csv(out)[0]["手机号"]) == (ID_NUMBER, "13812345678")
    assert "身份证号" in result.output  # the warning to handle the file with care


def test_home_office_xlsx_has_registrations_and_checkins(records, runner, tmp_path):
    out, _ = export(runner, tmp_path, "home-office", "xlsx")
    assert load_workbook(out).sheetnames == ["居家办公报备", "每日健康打卡"]
    header, regs = sheet_rows(out, "居家办公报备")
    assert header[:3] == ["报备编号", "姓名", "手机号"]
    assert [(r["街道/社区"], r["已向社区报备"], r["姓名"]) for r in regs] == [("八里庄街道", "是", "张三"),
                                                                        ("望京街道", "否", None)]
    header, checks = sheet_rows(out, "每日健康打卡")
    assert header[:5] == ["报备编号", "姓名", "手机号", "打卡编号", "打卡日期"]
    assert [(c["打卡日期"], c["体温"], c["症状"], c["异常"]) for c in checks] == [
        ("2022-05-20", 36.5, "无", "否"), ("2022-05-21", 37.6, "发热、咳嗽", "是")]
    assert checks[1]["定位"] == "朝阳区八里庄" and checks[1]["打卡时间"] == "2022-05-21 08:05"


def test_home_office_csv_puts_registration_columns_on_each_checkin(records, runner, tmp_path):
    out, _ = export(runner, tmp_path, "home-office", "csv")
    rows = read_csv(out)
    assert [(r["街道/社区"], r["打卡日期"]) for r in rows] == [
        ("八里庄街道", "2022-05-20"), ("八里庄街道", "2022-05-21"), ("望京街道", "")]  # no check-in yet
    assert rows[1]["体温"] == "37.6" and rows[1]["工作单位"] == "某某科技"


def test_legal_aid_bookings_with_slot_time(records, runner, tmp_path):
    out, _ = export(runner, tmp_path, "legal-aid", "xlsx")
    header, (row,) = sheet_rows(out, "法律援助预约")
    assert header[:4] == ["预约编号", "姓名", "手机号", "问题类别"]
    assert (row["咨询日期"], row["咨询时间"], row["咨询地点"]) == ("2022-05-24", "14:00–17:00", "职工法律服务中心")
    assert (row["手机号"], row["状态"], row["情况描述"]) == ("139****1111", "已预约", "三个月没发工资")
    csv_out, _ = export(runner, tmp_path, "legal-aid", "csv")
    assert read_csv(csv_out)[0]["咨询时间"] == "14:00–17:00"


def test_escalations_with_reason_and_last_message(records, runner, tmp_path):
    out, _ = export(runner, tmp_path, "escalations", "csv")
    (row,) = read_csv(out)
    assert (row["原因"], row["状态"], row["发起时间"]) == ("自动回答没解决", "处理中", "2022-05-20 10:30")
    assert (row["最后一条消息"], row["最后消息时间"]) == ("老板不接电话", "2022-05-20 10:31")
    assert row["微信用户"] == "o_export_1" and row["姓名"] == "张三"
    out, _ = export(runner, tmp_path, "escalations", "xlsx")
    header, rows = sheet_rows(out, "转人工记录")
    assert header[:4] == ["编号", "姓名", "微信用户", "原因"] and len(rows) == 1


@pytest.mark.parametrize("dataset", ["membership", "home-office", "legal-aid", "escalations"])
def test_empty_exports_still_have_headers(runner, tmp_path, dataset):
    out, result = export(runner, tmp_path, dataset, "xlsx")
    assert "0 行" in result.output
    for sheet in load_workbook(out).worksheets:
        assert sheet.max_row == 1 and sheet["A1"].value


def test_format_follows_the_file_name(records, runner, tmp_path):
    out = tmp_path / "report.xlsx"
    result = runner.invoke(args=["export", "legal-aid", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames == ["法律援助预约"]


def test_unknown_dataset_is_refused(runner, tmp_path):
    result = runner.invoke(args=["export", "workers", "--out", str(tmp_path / "x.csv")])
    assert result.exit_code != 0 and "membership" in result.output
