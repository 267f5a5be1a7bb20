"""FAQ content (faq/*.yaml) and bot.faq: validation, required facts, rendering."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from flask import Flask

from bot import faq

FAQ_DIR = faq.DEFAULT_FAQ_DIR
TOPICS = faq.DEFAULT_TOPICS

# Facts each answer must carry (from shared/faq-topics.md). A tuple means "any of these".
REQUIRED_FACTS = {
    "legal.wage_arrears": ["12333", "第五十条", "支付令", "第八十五条", ("50%", "百分之五十"),
                           "1年", "2年", "经济困难",
                           "从欠薪行为结束之日起算", "不影响申请劳动仲裁"],          # issue 13
    "legal.quarantine_pay": ["工资", "第四十条", "第四十一条", "顺延", ("5号", "明电"),
                             "2020年1月24日", "今后如果再有"],                      # issue 13
    "legal.shutdown_pay": ["工资支付周期", "最低工资", "生活费", "协商", "第十二条", "2540"],
    "legal.overtime_pay": ["150%", "200%", "300%", "21.75", "13天", "补休", "第四十四条"],
    "legal.working_hours": ["8小时", "40小时", "1天", "1小时", "3小时", "36小时", "协商",
                            "批准"],
    "legal.wfh_rights": ["工资", "加班", "书面", "12333"],
    "legal.delayed_return": ["年休假", "第四十条", "第四十一条", ("远程", "在家工作"),
                             "2020年1月24日", "2020年2月7日", "今后如果再有"],      # issue 13
    "legal.dismissal": ["30日", "1个月工资", "工会", "2倍", "第四十二条", "孕期", "15年",
                        "经过培训或者调整工作岗位，仍不能胜任", "第四十条第二项"],   # issue 13
    "legal.severance": ["1个月工资", "6个月", "半个月", "12个月", "3倍", "12年", "第四十七条",
                        "第四十六条", "15701元/月", "法人单位从业人员", "47103元/月",
                        "合同到期单位不续签的，有经济补偿"],                       # issue 13
    "legal.resignation": ["30日", "3日", "第三十七条", "第三十八条", "经济补偿"],
    "legal.no_contract": ["1个月", "2倍工资", "11个月", "无固定期限", "第八十二条"],
    "legal.probation": ["1个月", "2个月", "6个月", "1次", "最低工资", "第十九条",
                        "最低档工资的80%或者劳动合同约定工资的80%",                  # issue 13
                        "经过培训或者调整工作岗位仍不能胜任"],
    "legal.minimum_wage": ["2540元/月", "27.7元/小时", "北京市", "2025年9月1日起", "第四十八条",
                           "不计入", "2年", "个人缴纳的养老、失业、医疗保险费和住房公积金"],
    "legal.annual_leave": ["5天", "10天", "15天", "300%", "12个月", "折算"],
    "legal.sick_leave": ["3个月", "24个月", "80%", "第四十二条"],
    "legal.maternity": ["98天", "15天", "42天", "1小时", "7个月", "生育津贴", "60天",
                        "没有给您参加生育保险的，由单位按您产假前工资的标准支付"],     # issue 13
    "legal.social_insurance": ["30日", "0.05%", "12333", "无效", "经济补偿",
                               "可以要求您退还这笔补偿"],                           # issue 13
    "legal.work_injury": ["30日", "1年", "60日", "停工留薪期", "12个月", "工会",
                          "自事故发生或确诊之日起1年内",                              # issue 13
                          "上下班路上出了交通事故，不是您负主要责任的，算工伤", "第十四条第六项",
                          "48小时", "预备性或者收尾性", "暴力"],
    "legal.mediation": ["免费", "15日", "互联网+调解", "支付令", "30日", "《工会法》第二十九条"],
    "legal.arbitration": ["1年", ("不收费", "免费"), "5日", "45日", "15日", "12个月"],
    "legal.legal_aid": ["工会", "法律援助", "经济困难", "预约法律援助"],
    "legal.collective_contract": ["工会", ("2/3", "三分之二"), "半数", "15日"],
    # new targets (faq-topics.md, "New legal targets")
    "legal.non_compete": ["高级管理人员", "高级技术人员", "保密义务", "2年", "按月给您经济补偿",
                          "违约金", "30%", "12个月", "最低工资", "3个月", "额外支付3个月",
                          "第二十四条", "第三十六条"],
    "legal.separation_certificate": ["出具解除或者终止劳动合同的证明", "15日", "档案", "社会保险",
                                     "劳动合同期限", "工作年限", "赔偿责任", "第五十条",
                                     "第八十九条", "12333", "仲裁"],
    "legal.paternity_leave": ["陪产假15天", "育儿假", "每年5个工作日", "3周岁", "北京市",
                              "人口与计划生育条例", "工资照发", "不得因此降低工资"],
    "legal.labour_dispatch": ["2年以上", "按月支付", "最低工资", "同工同酬", "临时性、辅助性或者替代性",
                              "10%", "连带赔偿责任", "工会", "第五十八条", "第六十三条", "第六十六条"],
    "home_office.scope": ["疫情防控", "城市运行", "公共服务", "2022年5月23日", "今后如果再发布"],
    "home_office.rules": ["社区", "健康监测", "核酸", "不聚会", "不串门", "不出游", "不扎堆",
                          "2022年5月23日", "今后如果再发布"],
    "home_office.how_to_report": ["居家办公报备", "健康打卡", "2022年5月23日", "今后再有居家办公要求"],
    "home_office.employer_duty": ["30%", "点对点", "谁管理、谁负责", "健康状况", "今后如果再发布"],
    "home_office.volunteer": ["志愿者", "社区", "2022年5月23日", "今后如果再发布"],
    "union.how_to_join": ["工资收入", "劳动关系", "会员证", "外卖", "我要入会"],
    "union.benefits": ["法律援助", "困难", "互助", "优惠"],
    "union.dues": ["0.5%", "按月", "基本工资", "视为自动退会（《中国工会章程》第五条）"],
    "union.mutual_aid_card": ["互助服务卡"],
    "union.secondary_reimbursement": ["二次报销", "医保"],
    "union.about": ["自愿", "维护职工合法权益"],
    "service.hotlines": ["12351", "12333", "12345"],
    "service.hardship_aid": ["送温暖", "困难"],
    "service.mental_health": ["心理", "12356", "每天不少于18小时"],                 # issue 13
    "service.employment": ["招聘会", "培训"],
    "service.recuperation": ["体检", "疗休养"],
    "service.migrant_workers": ["农民工", "过年"],
    "service.member_discounts": ["消费券", "优惠"],
    "service.activities": ["职工书屋", "培训班"],
}
# Wrong before issue 13: must never come back.
WRONG_FACTS = {
    "legal.severance": ["11761"],                           # the social-insurance base series
    "service.mental_health": ["24小时心理援助热线"],           # 12356 is >= 18 h a day
    "union.dues": ["视为自动退会（《中国工会章程》第四条）"],
    "legal.probation": ["最低档工资，或者劳动合同约定工资的80%"],
}


@pytest.mark.parametrize("faq_id", sorted(WRONG_FACTS))
def test_corrected_facts_stay_corrected(cat, faq_id):
    text = faq.render_text(faq_id, cat)
    assert not [f for f in WRONG_FACTS[faq_id] if f in text]


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
    monkeypatch.setenv("CONTENT_CACHE_DIR", str(tmp_path / "cache"))
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


# ------------------------------------------------------------------ issue 13: new targets table

def test_topics_rows_marked_new_are_read():
    text = ("| id | topic |\n|---|---|\n| legal.wage_arrears | x |\n\n"
            "| added | id | topic | facts |\n|---|---|---|---|\n| new | legal.non_compete | y | z |\n"
            "| fallback | w |\n")
    assert faq.parse_topics(text) == ["legal.wage_arrears", "legal.non_compete", "fallback"]


# ------------------------------------------------------------------ regional sample data

REGIONS_WITH_SAMPLE = REGIONS + """\
  union_hotline: {value: "12351"}
  hall_address: {value: 示例路1号, placeholder: true, source: 示例}
"""
ADDRESS_ANSWER = GOOD.replace("不低于300%。最低工资{minimum_wage_monthly}。",
                              "不低于300%。\\n    咨询电话：{union_hotline}。\\n    地址：{hall_address}。")


def test_sample_regional_data_is_never_shown_and_is_reported(faq_tmp):
    (faq_tmp / "regions.yaml").write_text(REGIONS_WITH_SAMPLE, encoding="utf-8")
    (faq_tmp / "legal.yaml").write_text(ADDRESS_ANSWER, encoding="utf-8")
    text = faq.render_text("legal.overtime_pay", faq.load(faq_tmp))
    assert "12351" in text and "示例路" not in text and "地址" not in text
    problems = faq.placeholder_problems(faq_tmp)
    assert any("hall_address" in p and "placeholder" in p for p in problems)
    (faq_tmp / "regions.yaml").write_text(REGIONS_WITH_SAMPLE.replace(", placeholder: true", ""),
                                          encoding="utf-8")
    assert "地址：示例路1号" in faq.render_text("legal.overtime_pay", faq.load(faq_tmp))
    assert not any("hall_address" in p for p in faq.placeholder_problems(faq_tmp))


def test_the_unions_address_is_a_setting_left_out_of_answers_until_set(faq_tmp, monkeypatch):
    (faq_tmp / "legal.yaml").write_text(ADDRESS_ANSWER.replace("{hall_address}", "{union_address}"),
                                        encoding="utf-8")
    (faq_tmp / "regions.yaml").write_text(REGIONS_WITH_SAMPLE.replace(", placeholder: true", ""), encoding="utf-8")
    assert "地址" not in faq.render_text("legal.overtime_pay", faq.load(faq_tmp))
    assert any("UNION_ADDRESS is not set" in p for p in faq.placeholder_problems(faq_tmp))
    monkeypatch.setenv("UNION_ADDRESS", "北京市某区工人路1号")
    assert "地址：北京市某区工人路1号" in faq.render_text("legal.overtime_pay", faq.load(faq_tmp))
    assert faq.placeholder_problems(faq_tmp) == []


def test_the_shipped_sample_service_data_is_left_out_of_answers(cat):
    problems = faq.placeholder_problems(FAQ_DIR)
    assert any("UNION_ADDRESS" in p for p in problems)           # production must set it
    for e in cat.entries.values():
        if e.answer:
            text = faq.render_text(e.id, cat)
            assert "职工服务路1号" not in text and "9:00—17:00" not in text, e.id
    assert "12351" in faq.render_text("service.hotlines", cat)


def test_cli_load_warns_about_sample_data(faq_tmp):
    (faq_tmp / "regions.yaml").write_text(REGIONS_WITH_SAMPLE, encoding="utf-8")
    result = _app().test_cli_runner().invoke(args=["faq", "load", "--dir", str(faq_tmp)])
    assert result.exit_code == 0                      # a warning, not a failure: CI content is valid
    assert "WARNING" in result.output and "hall_address" in result.output


# ------------------------------------------------------------------ broken content never stops answering

def test_an_invalid_change_is_refused_once_and_logged(faq_tmp, caplog):
    """A broken edit is tried once (one log line), never again on every message, and the last good
    content keeps answering."""
    first = faq.catalogue(faq_tmp)
    (faq_tmp / "legal.yaml").write_text("- id: [broken\n", encoding="utf-8")
    with caplog.at_level("ERROR"):
        for _ in range(5):
            assert faq.catalogue(faq_tmp) is first
    assert sum("does not validate" in r.getMessage() for r in caplog.records) == 1


def test_a_process_starting_with_broken_content_serves_the_last_good_snapshot(faq_tmp, tmp_path):
    """A real restart: a second process finds the content broken and serves the snapshot the first
    one left; `flask faq load` still fails."""
    import subprocess
    import sys

    env = {**os.environ, "CONTENT_CACHE_DIR": str(tmp_path / "cache"), "FAQ_DIR": str(faq_tmp),
           "FAQ_TOPICS": str(faq_tmp / "no-topics.md")}
    show = ("from bot import faq; c = faq.catalogue(); "
            "print(c.version, 'flow.handoff' in c.entries)")
    root = Path(__file__).resolve().parent.parent
    good = subprocess.run([sys.executable, "-c", show], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)
    assert good.returncode == 0, good.stderr
    (faq_tmp / "flows.yaml").write_text("[]\n", encoding="utf-8")   # out of step with the targets
    served = subprocess.run([sys.executable, "-c", show], cwd=root, env=env, capture_output=True, text=True,
                            timeout=120)
    assert served.returncode == 0, served.stderr
    assert served.stdout == good.stdout and served.stdout.split()[1] == "True"
    assert "Serving the last good content" in served.stderr
    with pytest.raises(faq.FaqError):
        faq.load(faq_tmp)                                    # `flask faq load` still fails


# ------------------------------------------------------------------ the sub-question asked comes first

def first_sentence(reply: str) -> str:
    return re.split(r"[。！？；：:]", reply, maxsplit=1)[0]


# (the worker asks, what the first sentence of page 1 must say)
SUB_QUESTIONS = [
    ("我上班路上出车祸算工伤吗", "上下班路上出了交通事故，不是您负主要责任的，算工伤"),
    ("我老婆生孩子我有陪产假吗", "有"),
    ("离职证明公司不给开", "单位应当开"),
    ("劳动合同到期不续签有补偿吗", "合同到期单位不续签的，有经济补偿"),
    ("试用期可以随便辞退我吗", "试用期内单位也不能随便辞退您"),
]


@pytest.mark.parametrize("question,opening", SUB_QUESTIONS, ids=[q for q, _ in SUB_QUESTIONS])
def test_the_sub_question_asked_is_answered_first(chat, question, opening):
    reply = chat.say(question)
    assert first_sentence(reply) == opening, chat.format_transcript()


def test_a_traditional_yes_no_question_gets_yes_no_first_in_traditional(chat):
    reply = chat.say("競業限制協議有效嗎")
    assert first_sentence(reply) == "競業限制協議有效，但有條件", chat.format_transcript()
    assert "第二十四條" in reply


def test_the_new_targets_answer_with_their_facts_on_page_one(chat):
    assert "陪产假15天" in chat.say("陪产假有几天")
    assert "同工同酬" in chat.say("我是劳务派遣工，和正式工同工同酬吗")


@pytest.mark.parametrize("faq_id,question,opening", [
    ("legal.work_injury", "工伤认定申请有时间限制吗", "怎么认定"),
    ("legal.probation", "试用期最长能约定几个月", "试用期长短"),
    ("legal.maternity", "单位没给我交生育保险，生育津贴谁出", "产假期间的生育津贴"),
    ("legal.wage_arrears", "两年前的欠薪还能投诉吗", "投诉时效"),
    ("legal.work_injury", "我上班路上出车祸算工伤吗", "上下班路上出了交通事故"),   # already first
    ("legal.work_injury", None, "上下班路上出了交通事故"),                            # no question: as written
])
def test_render_puts_the_part_asked_about_first(faq_id, question, opening):
    pages = faq.render(faq_id, question=question)
    assert pages[0].startswith(opening)
    assert "".join(pages).count("依据：") == 1                  # nothing lost or repeated
    whole = "\n\n".join(faq.render(faq_id))
    assert sorted("\n\n".join(pages).split("\n\n")) == sorted(whole.split("\n\n"))
