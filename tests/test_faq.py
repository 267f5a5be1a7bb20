"""FAQ content (faq/*.yaml) and bot.faq: validation, required facts, rendering."""
from __future__ import annotations

import re

import pytest
from flask import Flask

from bot import faq

FAQ_DIR = faq.DEFAULT_FAQ_DIR
TOPICS = faq.DEFAULT_TOPICS

# Facts each answer must carry (from shared/faq-topics.md). A tuple means "any of these".
REQUIRED_FACTS = {
    "legal.wage_arrears": ["12333", "第五十条", "支付令", "第八十五条", ("50%", "百分之五十"),
                           "1年", "2年", "经济困难"],
    "legal.quarantine_pay": ["工资", "第四十条", "第四十一条", "顺延", ("5号", "明电")],
    "legal.shutdown_pay": ["工资支付周期", "最低工资", "生活费", "协商", "第十二条", "2540"],
    "legal.overtime_pay": ["150%", "200%", "300%", "21.75", "13天", "补休", "第四十四条"],
    "legal.working_hours": ["8小时", "40小时", "1天", "1小时", "3小时", "36小时", "协商",
                            "批准"],
    "legal.wfh_rights": ["工资", "加班", "书面", "12333"],
    "legal.delayed_return": ["年休假", "第四十条", "第四十一条", ("远程", "在家工作")],
    "legal.dismissal": ["30日", "1个月工资", "工会", "2倍", "第四十二条", "孕期", "15年"],
    "legal.severance": ["1个月工资", "6个月", "半个月", "12个月", "3倍", "12年", "第四十七条",
                        "第四十六条"],
    "legal.resignation": ["30日", "3日", "第三十七条", "第三十八条", "经济补偿"],
    "legal.no_contract": ["1个月", "2倍工资", "11个月", "无固定期限", "第八十二条"],
    "legal.probation": ["1个月", "2个月", "6个月", "80%", "1次", "最低工资", "第十九条"],
    "legal.minimum_wage": ["2540元/月", "27.7元/小时", "北京市", "2025年9月1日起", "第四十八条",
                           "不计入", "2年"],
    "legal.annual_leave": ["5天", "10天", "15天", "300%", "12个月", "折算"],
    "legal.sick_leave": ["3个月", "24个月", "80%", "第四十二条"],
    "legal.maternity": ["98天", "15天", "42天", "1小时", "7个月", "生育津贴", "60天"],
    "legal.social_insurance": ["30日", "0.05%", "12333", "无效", "经济补偿"],
    "legal.work_injury": ["30日", "1年", "60日", "停工留薪期", "12个月", "工会"],
    "legal.mediation": ["免费", "15日", "互联网+调解", "支付令", "30日"],
    "legal.arbitration": ["1年", ("不收费", "免费"), "5日", "45日", "15日", "12个月"],
    "legal.legal_aid": ["工会", "法律援助", "经济困难", "预约法律援助"],
    "legal.collective_contract": ["工会", ("2/3", "三分之二"), "半数", "15日"],
    "home_office.scope": ["疫情防控", "城市运行", "公共服务"],
    "home_office.rules": ["社区", "健康监测", "核酸", "不聚会", "不串门", "不出游", "不扎堆"],
    "home_office.how_to_report": ["居家办公报备", "健康打卡"],
    "home_office.employer_duty": ["30%", "点对点", "谁管理、谁负责", "健康状况"],
    "home_office.volunteer": ["志愿者", "社区"],
    "union.how_to_join": ["工资收入", "劳动关系", "会员证", "外卖", "我要入会"],
    "union.benefits": ["法律援助", "困难", "互助", "优惠"],
    "union.dues": ["0.5%", "按月", "基本工资"],
    "union.mutual_aid_card": ["互助服务卡"],
    "union.secondary_reimbursement": ["二次报销", "医保"],
    "union.about": ["自愿", "维护职工合法权益"],
    "service.hotlines": ["12351", "12333", "12345"],
    "service.hardship_aid": ["送温暖", "困难"],
    "service.mental_health": ["24小时", "心理"],
    "service.employment": ["招聘会", "培训"],
    "service.recuperation": ["体检", "疗休养"],
    "service.migrant_workers": ["农民工", "过年"],
    "service.member_discounts": ["消费券", "优惠"],
    "service.activities": ["职工书屋", "培训班"],
}


def has(text: str, fact) -> bool:
    return any(f in text for f in fact) if isinstance(fact, tuple) else fact in text


@pytest.fixture(scope="module")
def cat():
    return faq.load(FAQ_DIR)


# ------------------------------------------------------------------ the real content

def test_content_validates(cat):
    assert len(cat.entries) >= 48
    assert cat.n_examples > 5 * len(cat.entries)


def test_every_target_has_an_entry(cat):
    ids = [i for i in cat.known_ids if i not in faq.NON_ENTRY_TARGETS]
    assert sorted(ids) == sorted(cat.entries)


def test_targets_txt_matches_faq_topics():
    if not TOPICS.is_file():
        pytest.skip("shared/faq-topics.md not present")
    committed = [ln.strip() for ln in (FAQ_DIR / faq.TARGETS_FILE).read_text(encoding="utf-8").splitlines()
                 if ln.strip() and not ln.startswith("#")]
    assert committed == faq.parse_topics(TOPICS.read_text(encoding="utf-8"))


def test_fact_table_covers_every_faq_id(cat):
    faq_ids = {i for i in cat.entries if i.startswith(faq.FAQ_PREFIXES)} - {"union.application_status"}
    assert faq_ids == set(REQUIRED_FACTS)


@pytest.mark.parametrize("faq_id", sorted(REQUIRED_FACTS))
def test_answer_carries_required_facts(cat, faq_id):
    text = faq.render_text(faq_id, cat)
    missing = [f for f in REQUIRED_FACTS[faq_id] if not has(text, f)]
    assert not missing, f"{faq_id} lacks {missing}"


@pytest.mark.parametrize("faq_id", sorted(i for i in REQUIRED_FACTS if i.startswith("legal.")))
def test_legal_answer_names_basis_and_next_step(cat, faq_id):
    e = cat.entries[faq_id]
    text = faq.render_text(faq_id, cat)
    assert e.basis and f"依据：{e.basis}" in text
    assert re.search(r"《[^》]+》|明电|发〔", e.basis)
    assert any(s in text for s in ("转人工", "法律援助", "12351"))


def test_every_page_fits_wechat(cat):
    for e in cat.entries.values():
        if not e.answer:
            continue
        for traditional in (False, True):
            pages = faq.paginate(faq.render_text(e.id, cat))
            for i, page in enumerate(pages):
                assert len(page.encode("utf-8")) < faq.PAGE_BYTES - faq.FOOTER_BYTES, e.id
                assert len(page) <= faq.PAGE_CHARS + 20, e.id


def test_no_placeholder_left_and_region_shown(cat):
    for e in cat.entries.values():
        if e.answer:
            assert "{" not in faq.render_text(e.id, cat), e.id
    assert "2540元/月（北京市，2025年9月1日起）" in faq.render_text("legal.minimum_wage", cat)


# ------------------------------------------------------------------ public API

def test_api_render_title_entry():
    pages = faq.render("legal.overtime_pay")
    assert pages and "300%" in "".join(pages)
    assert faq.title("legal.overtime_pay")
    e = faq.entry("legal.maternity")
    assert (e.id, bool(e.title), bool(e.answer), bool(e.basis)) == ("legal.maternity", True, True, True)
    assert "flow.legal_aid" in e.next or "flow.handoff" in e.next
    assert {x.id for x in faq.all_entries()} >= set(REQUIRED_FACTS)
    with pytest.raises(KeyError):
        faq.entry("legal.nope")


def test_render_traditional():
    text = "".join(faq.render("legal.maternity", traditional=True))
    assert "98天" in text and "產假" in text and "产假" not in text


# ------------------------------------------------------------------ pagination

def test_paginate_splits_at_paragraphs():
    paras = ["甲" * 120, "乙" * 120, "丙" * 120]
    pages = faq.paginate("\n\n".join(paras))
    assert pages[0] == "\n\n".join(paras[:2])
    assert pages[1] == paras[2]


def test_paginate_long_paragraph_at_sentence_ends():
    text = "。".join(["字" * 90] * 8) + "。"
    pages = faq.paginate(text)
    assert len(pages) >= 3
    for p in pages[:-1]:
        assert p.split("\n\n")[0].endswith("。")


# ------------------------------------------------------------------ malformed content

GOOD = """\
- id: legal.overtime_pay
  title: 加班费怎么算
  keywords: [加班费]
  examples: [加班费怎么算]
  answer: |
    不低于300%。最低工资{minimum_wage_monthly}。
  basis: 《劳动法》第四十四条
  next: [flow.handoff]
"""
FLOWS = """\
- id: flow.handoff
  title: 转人工
  keywords: [转人工]
  examples: [我要找人工]
"""
REGIONS = """\
region: 北京市
values:
  minimum_wage_monthly: {value: 2540元/月, valid_from: 2025-09-01, source: test}
"""


@pytest.fixture
def faq_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("FAQ_TOPICS", str(tmp_path / "no-topics.md"))
    (tmp_path / "targets.txt").write_text("legal.overtime_pay\nflow.handoff\nfallback\n", encoding="utf-8")
    (tmp_path / "legal.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "flows.yaml").write_text(FLOWS, encoding="utf-8")
    (tmp_path / "regions.yaml").write_text(REGIONS, encoding="utf-8")
    (tmp_path / "out_of_scope.yaml").write_text("examples: [明天下雨吗]\n", encoding="utf-8")
    return tmp_path


def test_small_catalogue_loads(faq_tmp):
    cat = faq.load(faq_tmp)
    assert set(cat.entries) == {"legal.overtime_pay", "flow.handoff"}
    assert cat.out_of_scope == ("明天下雨吗",)
    assert "依据：《劳动法》第四十四条" in faq.render_text("legal.overtime_pay", cat)
    assert "2540元/月（北京市，2025年9月1日起）" in faq.render_text("legal.overtime_pay", cat)


BROKEN = [
    ("missing basis", GOOD.replace("  basis: 《劳动法》第四十四条\n", ""), "basis"),
    ("missing answer", GOOD.split("  answer:")[0] + "  basis: x\n", "answer"),
    ("unknown id", GOOD.replace("legal.overtime_pay", "legal.overtime_pey"), "unknown id"),
    ("unknown placeholder", GOOD.replace("minimum_wage_monthly", "minimum_wage_weekly"), "placeholder"),
    ("examples not a list", GOOD.replace("examples: [加班费怎么算]", "examples: 加班费怎么算"), "examples"),
    ("answer too long", GOOD.replace("不低于300%。", "长" * 2100), "characters"),
    ("next unknown", GOOD.replace("next: [flow.handoff]", "next: [flow.nope]"), "flow.nope"),
]


@pytest.mark.parametrize("what,content,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_malformed_entry_names_file_and_id(faq_tmp, what, content, message):
    (faq_tmp / "legal.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(faq.FaqError) as err:
        faq.load(faq_tmp)
    text = str(err.value)
    assert "legal.yaml" in text and message in text
    if what != "unknown id":
        assert "legal.overtime_pay" in text
    else:
        assert "legal.overtime_pey" in text


def test_duplicate_id_names_both_files(faq_tmp):
    (faq_tmp / "more.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(faq.FaqError, match=r"more.yaml: entry legal.overtime_pay: duplicate id \(also in legal.yaml\)"):
        faq.load(faq_tmp)


def test_missing_target_is_reported(faq_tmp):
    (faq_tmp / "flows.yaml").write_text("[]\n", encoding="utf-8")
    with pytest.raises(faq.FaqError, match="flow.handoff"):
        faq.load(faq_tmp)


def test_invalid_yaml_names_file(faq_tmp):
    (faq_tmp / "legal.yaml").write_text("- id: [unclosed\n", encoding="utf-8")
    with pytest.raises(faq.FaqError, match="legal.yaml: not valid YAML"):
        faq.load(faq_tmp)


def test_cache_reloads_on_change_and_keeps_last_good(faq_tmp):
    first = faq.catalogue(faq_tmp)
    assert faq.catalogue(faq_tmp) is first
    path = faq_tmp / "legal.yaml"
    path.write_text(GOOD.replace("加班费怎么算\n", "加班工资怎么算\n", 1), encoding="utf-8")
    second = faq.catalogue(faq_tmp)
    assert second is not first and second.entries["legal.overtime_pay"].title == "加班工资怎么算"
    path.write_text("- id: [broken\n", encoding="utf-8")
    assert faq.catalogue(faq_tmp).entries["legal.overtime_pay"].title == "加班工资怎么算"


def test_known_ids_come_from_faq_topics_when_present(faq_tmp, monkeypatch):
    topics = faq_tmp / "topics.md"
    topics.write_text("| id | topic |\n|---|---|\n| legal.overtime_pay | x |\n| flow.handoff | y |\n"
                      "| fallback | z |\n", encoding="utf-8")
    monkeypatch.setenv("FAQ_TOPICS", str(topics))
    (faq_tmp / "targets.txt").write_text("", encoding="utf-8")
    assert set(faq.load(faq_tmp).entries) == {"legal.overtime_pay", "flow.handoff"}


# ------------------------------------------------------------------ flask faq load

def _app():
    app = Flask(__name__)
    app.cli.add_command(faq.faq_cli)
    return app


def test_cli_load_prints_summary():
    result = _app().test_cli_runner().invoke(args=["faq", "load"])
    assert result.exit_code == 0, result.output
    assert re.search(r"\d+ entries, \d+ examples", result.output)


def test_cli_load_fails_with_message(faq_tmp):
    (faq_tmp / "legal.yaml").write_text(GOOD.replace("  basis: 《劳动法》第四十四条\n", ""), encoding="utf-8")
    result = _app().test_cli_runner().invoke(args=["faq", "load", "--dir", str(faq_tmp)])
    assert result.exit_code != 0
    assert "legal.yaml: entry legal.overtime_pay: missing required field 'basis'" in result.output
