"""The free-text router (bot.nlu): normalisation, typo tolerance, routing decisions, CLI."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from flask import Flask

from bot import faq
from bot.nlu import Route, get_index, is_traditional, normalise, route, to_traditional
from bot.nlu.cli import SCORE_PY, _load_score_module, nlu_cli
from bot.nlu.typo import TypoCorrector

DEV = SCORE_PY.parent / "dev.jsonl"


@pytest.fixture(scope="module")
def index():
    return get_index()


# ------------------------------------------------------------------ normalisation

@pytest.mark.parametrize("raw,expected", [
    ("ＨＲ說我ｐｒｏｂａｔｉｏｎ不合格", "hr说我probation不合格"),     # full width, Traditional, case
    ("週六加班公司只給補休不給加班費，可以嗎？", "周六加班公司只给补休不给加班费 可以吗"),
    ("加班费怎么算？？？！！", "加班费怎么算"),
    ("😂😂😂", ""),
    ("；；；‘’、、、", ""),
    ("干了三个月", "干了3个月"),
    ("工作满十年，年假几天", "工作满10年 年假几天"),
    ("一天最多上十二个小时", "1天最多上12个小时"),
    ("干了俩月，一天十个钟头", "干了两月 1天10个小时"),                 # spoken numbers and units
    ("百分之五十", "50%"),
    ("二次报销", "二次报销"),                                        # numerals inside words stay
    ("一起去", "一起去"),
    ("N+1", "n+1"),
    ("体温36.6", "体温36.6"),
    ("嗯那个我是公交司机然后我们这片封控了", "我是公交司机 我们这片封控了"),
    ("嗯嗯嗯", "嗯嗯嗯"),                                            # a filler-only text is kept
    ("请问在吗？", "在吗"),
    ("哈尔滨的工会", "哈尔滨的工会"),
])
def test_normalise(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize("text,traditional", [
    ("週六加班公司只給補休", True),
    ("請問加入工會需要什麼條件？", True),
    ("周六加班公司只给补休", False),
    ("HR说我probation不合格", False),
    ("12351", False),
    ("", False),
])
def test_is_traditional(text, traditional):
    assert is_traditional(text) is traditional


def test_to_traditional_keeps_mainland_terms():
    assert to_traditional("视频调解，工会会费") == "視頻調解，工會會費"


# ------------------------------------------------------------------ typo tolerance

@pytest.fixture(scope="module")
def corrector():
    import jieba

    terms = {"工资": 3, "加班费": 3, "社保": 3, "仲裁": 3, "劳动合同": 3, "工会": 3, "工伤": 3,
             "公会": 1}
    freq = {"工商": 1684, "公会": 187, "同事": 5000}
    return TypoCorrector(terms, is_word=lambda w: freq.get(w, 0) >= 50,
                         segment=lambda s: jieba.lcut(s, HMM=False))


@pytest.mark.parametrize("text,corrected,extras", [
    ("最低公资", "最低工资", []),
    ("法定节假日家班费几倍", "法定节假日加班费几倍", []),
    ("单位不交社宝", "单位不交社保", []),
    ("劳动仲采要钱吗", "劳动仲裁要钱吗", []),
    ("没签劳动合通", "没签劳动合同", []),
    ("算不算工商", "算不算工商", ["工伤"]),        # a real word: kept, the domain term added
    ("游戏里的公会", "游戏里的公会", ["工会"]),
    ("我和同事吵架了", "我和同事吵架了", []),      # 和同 inside 和|同事 is not 合同
])
def test_typo_corrector(corrector, text, corrected, extras):
    assert corrector.correct(text) == (corrected, extras)


@pytest.mark.parametrize("text,target", [
    ("最低公资现在是多少", "legal.minimum_wage"),
    ("法定节假日家班费是几倍", "legal.overtime_pay"),
    ("单位没给我交社宝怎么办", "legal.social_insurance"),
    ("劳动仲采要花钱吗", "legal.arbitration"),
    ("产架一共几天", "legal.maternity"),
    ("工会会废怎么交", "union.dues"),
    ("老板不给家班费", "legal.overtime_pay"),    # 家 read jia (加班费), not its rare jie (不给结)
    ("网上条解怎么申请", "legal.mediation"),      # 调解 is tiao-jie as a word, not diao-jie
])
def test_typos_route_to_the_right_answer(index, text, target):
    assert route(text).target == target


# ------------------------------------------------------------------ routing

@pytest.mark.parametrize("text,target", [
    ("菜单", "menu"), ("帮助", "menu"), ("  菜单！", "menu"),
    ("我要入会", "flow.membership"), ("我要入會", "flow.membership"),
    ("居家办公报备", "flow.home_office"), ("打卡", "flow.home_office"), ("打卡。", "flow.home_office"),
    ("预约律师", "flow.legal_aid"), ("預約律師", "flow.legal_aid"),
    ("转人工", "flow.handoff"), ("轉人工", "flow.handoff"), ("转人工。", "flow.handoff"),
    ("你好", "smalltalk.greeting"), ("谢谢", "smalltalk.thanks"), ("thx", "smalltalk.thanks"),
])
def test_menu_and_flow_phrases_always_route(index, text, target):
    r = route(text)
    assert (r.target, r.score, r.decision) == (target, 1.0, "answer")


@pytest.mark.parametrize("text,target", [
    ("公司拖欠工资三个月了怎么办", "legal.wage_arrears"),
    ("週末加班公司不給加班費怎麼辦", "legal.overtime_pay"),           # Traditional
    ("嗯那个就是我怀孕了然后公司要给我降工资这个可以吗", "legal.maternity"),  # voice
    ("会费", "union.dues"),                                                 # keyword
    ("boss不给我交social insurance", "legal.social_insurance"),            # mixed
    ("你好，我想问一下加班费怎么算", "legal.overtime_pay"),                 # greeting + question
])
def test_styles(index, text, target):
    assert route(text).target == target


OUT_OF_SCOPE = [
    "", "   ", "🙂🙂", "？？？", "asdfghjkl", "jjjjjjjj",
    "红烧肉怎么做好吃", "帮我订一张去上海的机票", "推荐一部好看的电影", "明天上海下雪吗",
    "股票什么时候能回本", "小孩发烧了去哪个医院", "给我写首诗", "哪款手机拍照好",
]


@pytest.mark.parametrize("text", OUT_OF_SCOPE)
def test_out_of_scope_is_never_an_faq(index, text):
    r = route(text)
    assert not r.target.startswith(faq.FAQ_PREFIXES), r
    assert r.target == "fallback" and r.decision == "fallback"


def test_route_contract(index):
    r = route("被辞退了能拿多少赔偿")
    assert isinstance(r, Route) and r.decision in ("answer", "clarify", "fallback")
    assert 0.0 <= r.score <= 1.0
    assert all(isinstance(t, str) and isinstance(s, float) for t, s in r.candidates)
    if r.decision == "clarify":
        assert r.target == "clarify" and 2 <= len(r.candidates) <= 3
    targets = {t for t, _ in r.candidates}
    assert targets & {"legal.dismissal", "legal.severance"}


@pytest.mark.parametrize("text", ["工资", "假期", "公司", "老板", "工資？"])
def test_a_bare_word_many_topics_share_is_asked_back(index, text):
    r = route(text)
    assert (r.target, r.decision) == ("clarify", "clarify"), r
    assert 2 <= len(r.candidates) <= 3


@pytest.mark.parametrize("text,target", [
    ("会费", "union.dues"), ("加班费", "legal.overtime_pay"), ("年假", "legal.annual_leave"),
])
def test_a_bare_word_of_one_topic_is_still_answered(index, text, target):
    assert route(text).target == target


@pytest.mark.parametrize("text", ["结束居家办公", "延长居家办公", "我要延长居家办公时间", "居家办公提前结束"])
def test_ending_or_extending_home_office_goes_to_the_flow(index, text):
    assert route(text).target == "flow.home_office"


@pytest.mark.parametrize("text", [
    "猫怀孕了吃什么好", "银行卡挂失怎么弄", "工资卡丢了", "医保卡丢了怎么办", "管控区的菜怎么买",
])
def test_near_misses_sharing_one_topic_word_fall_back(index, text):
    assert route(text).target == "fallback"


@pytest.mark.parametrize("text,target", [
    ("怀孕了公司要给我调岗", "legal.maternity"),
    ("社区志愿者怎么报名", "home_office.volunteer"),
    ("在么", "smalltalk.greeting"),
    ("懂了", "smalltalk.thanks"),
])
def test_topic_words_in_their_own_context_still_route(index, text, target):
    assert route(text).target == target


def test_novel_and_elsewhere_words_are_features(index):
    known = index.scores("加班费怎么算")[2]
    novel = index.scores("螃蟹加班费怎么算")[2]
    assert "x:novel" not in known and "x:novel" in novel
    assert "x:elsewhere" in index.scores("德国的加班费怎么算")[2]


def test_index_is_one_per_process_and_thread_safe(index):
    got = []
    threads = [threading.Thread(target=lambda: got.append(get_index())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(g is index for g in got)


@pytest.mark.skipif(not DEV.is_file(), reason="../shared/eval/dev.jsonl not present")
def test_dev_set_meets_targets(index):
    module = _load_score_module()
    items = module.load_items(str(DEV))
    results = []
    for it in items:
        r = route(it["text"])
        results.append({"text": it["text"], "target": r.target, "score": r.score,
                        "candidates": [{"target": t, "score": s} for t, s in r.candidates]})
    m = module.score(items, results)
    assert m["accuracy"] >= 0.95, m["worst_confusions"]
    assert m["rejection"] >= 0.90, m["out_of_scope_not_rejected"]


# ------------------------------------------------------------------ fast paths = the plain ones
# The router's per-message shortcuts (the typo trie, the model's scoring on its fitted arrays,
# the OpenCC character check) must give exactly what the straightforward computation gives.

def _faq_texts() -> list[str]:
    cat = faq.catalogue()
    texts = [*cat.out_of_scope]
    for e in cat.entries.values():
        texts += [*e.examples, *e.keywords, e.title]
    return texts


def _odd_texts(n: int = 400) -> list[str]:
    import random

    rng = random.Random(7)
    pools = ["公司拖欠工资三个月加班费社保工会会费仲裁劳动合同", "週六加班給補休費會說們這個",
             "abcxyz0123 +-._%#&", "，。！？、 \t\n😂🙂", "零一二三四五六七八九十百千万两俩仨钟头"]
    out = []
    for _ in range(n):
        out.append("".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 40))))
    return out


def test_typo_matches_are_the_first_matching_key_of_each_window(index):
    from bot.nlu.typo import MAX_LEN, MIN_LEN, _HAN_RUN, keys

    typos = index.lexicon.typos

    def plain(run, cuts):
        found = {}
        for i in range(len(run)):
            for length in range(MIN_LEN, min(MAX_LEN, len(run) - i) + 1):
                window = run[i:i + length]
                if i in cuts or i + length in cuts:
                    continue
                own = typos.priority.get(window, 0.0)
                for n, k in enumerate(keys(window)):
                    term = typos.index.get(k)
                    if term and term != window and typos.priority[term] > own:
                        found[i, length] = (term, n == 0)
                        break
        return found

    runs = {r for t in _faq_texts()[::2] + _odd_texts() for r in _HAN_RUN.findall(normalise(t))}
    for run in runs:
        for cuts in (set(), typos._inner_cuts(run)):
            assert typos._matches(run, cuts) == plain(run, cuts), (run, cuts)


def test_the_model_scores_as_scikit_learn_and_bm25s_do():
    """The model's per-message scoring on the fitted arrays == the libraries' own calls (a model
    fitted here on part of the content; a saved index no longer carries the estimators)."""
    import numpy as np

    from bot.nlu import features as F
    from bot.nlu.lexicon import Lexicon
    from bot.nlu.model import TopicModel

    cat = faq.catalogue()
    lex = Lexicon(cat)
    targets = list(cat.entries)[:12]
    texts = [(x, e.id) for e in cat.entries.values() if e.id in targets for x in e.examples[:15]]
    texts += [(x, "fallback") for x in cat.out_of_scope[:60]]
    prepared = [lex.prepare(normalise(x)) for x, _ in texts]
    df = F.word_document_frequency(prepared)
    docs = [F.with_novelty(p, df) for p in prepared]
    labels = [lab for _, lab in texts]
    bm25_docs = [[w for p, lab in zip(prepared, labels) if lab == t for w in p.words] for t in targets]
    model = TopicModel(targets).fit(docs, labels, [1.0] * len(docs), bm25_docs)
    for text in _faq_texts()[::7] + _odd_texts(100):
        p = lex.prepare(normalise(text))
        feats = F.with_novelty(p, df)
        assert np.allclose(model.proba(feats), model.proba_sklearn(feats), atol=1e-9), text
        words = list(p.words)
        assert np.allclose(model.bm25_scores(words), model.bm25_scores_bm25s(words), atol=1e-6), text


# ------------------------------------------------------------------ CLI

@pytest.fixture
def runner():
    app = Flask(__name__)
    app.cli.add_command(nlu_cli)
    return app.test_cli_runner()


def test_cli_route_writes_one_json_line_per_input(runner, index):
    lines = ["加班费怎么算", "", "我要入会", "  空格  ", "明天会下雨吗"]
    result = runner.invoke(args=["nlu", "route"], input="".join(l + "\n" for l in lines))
    assert result.exit_code == 0, result.output
    out = [json.loads(l) for l in result.output.splitlines()]
    assert [o["text"] for o in out] == lines
    assert [o["target"] for o in out][:3] == ["legal.overtime_pay", "fallback", "flow.membership"]
    assert all(set(o) >= {"text", "target", "score", "candidates"} for o in out)
    assert all(set(c) == {"target", "score"} for o in out for c in o["candidates"])


def test_cli_eval_reports_metrics_and_thresholds(runner, index, tmp_path):
    data = tmp_path / "mini.jsonl"
    data.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"text": "加班费怎么算", "accept": ["legal.overtime_pay"], "style": "plain"},
        {"text": "明天会下雨吗", "accept": ["fallback"], "style": "plain"},
    ]) + "\n", encoding="utf-8")
    ok = runner.invoke(args=["nlu", "eval", str(data)])
    assert ok.exit_code == 0, ok.output
    assert "accuracy 1.000 rejection 1.000 n=2" in ok.output and "p99" in ok.output
    data.write_text(json.dumps({"text": "明天会下雨吗", "accept": ["legal.overtime_pay"]},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    bad = runner.invoke(args=["nlu", "eval", str(data), "--min-accuracy", "0.5"])
    assert bad.exit_code == 1


# ------------------------------------------------------------------ any input at all

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_normalises_and_routes(index, text):
    norm = normalise(text)
    assert norm == norm.strip() and "  " not in norm
    assert not any("\uff01" <= c <= "\uff5e" for c in norm)          # no full-width ASCII left
    r = route(text)
    assert r.decision in ("answer", "clarify", "fallback") and r.target


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="零〇一二两三四五六七八九十百千万亿点个月天年块元%", min_size=1, max_size=600))
def test_any_run_of_chinese_numerals_normalises_and_routes(index, text):
    # 500 × 一 + 天 once overflowed the float conversion; absurd numerals now stay as written
    r = route(text)
    assert r.decision in ("answer", "clarify", "fallback")


def test_an_absurd_numeral_is_left_as_written():
    assert normalise("一" * 500 + "天") == "一" * 500 + "天"
    assert normalise("三个月没发工资").startswith("3个月")


@pytest.mark.slow
def test_routing_is_the_same_in_every_process_whatever_the_hash_seed():
    # Two gunicorn workers must route a message alike: nothing may depend on set or dict-of-set order.
    import subprocess
    import sys

    probe = ("import json; from bot.nlu import get_index, route; i = get_index(); "
             "print(json.dumps([sorted(i.lexicon.typos.index.items()), "
             "[(r.target, round(r.score, 9)) for r in map(route, %r)]]))"
             % ["公司拖钱工资怎么半", "加班废怎么算", "工伤人定要多久", "辞退赔尝", "居家办工期间工资"])
    runs = [subprocess.Popen([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True,
                             env={**__import__("os").environ, "PYTHONHASHSEED": seed,
                                  "CONTENT_CACHE_DIR": "off"})     # both build: no snapshot
             for seed in ("1", "2")]
    (index_1, routes_1), (index_2, routes_2) = (json.loads(p.communicate(timeout=120)[0]) for p in runs)
    assert index_1, "no typo keys"
    differing = [(a, b) for a, b in zip(index_1, index_2) if a != b]  # short, so a failure prints fast
    assert not differing and len(index_1) == len(index_2), differing[:5]
    assert routes_1 == routes_2


# ------------------------------------------------------------------ issue 13: scope, two questions

@pytest.mark.parametrize("text", [
    "越南的最低工资是多少",             # another country
    "篮球联赛的体育仲裁怎么申请",       # sports arbitration
    "带狗狗去做体检要空腹吗",           # a pet's health check
    "手机合约套餐能提前解约吗",         # a phone contract
    "健身房的会员卡怎么退",             # a gym membership
])
def test_a_shared_word_alone_never_produces_an_answer(index, text):
    assert route(text).target == "fallback", route(text)


@pytest.mark.parametrize("text", ["你是机器人吗", "你是不是机器人啊", "我是在跟机器人说话吗", "这是机器人自动回复的吧"])
def test_asking_whether_this_is_a_robot_is_not_a_handoff(index, text):
    assert route(text).target != "flow.handoff"


@pytest.mark.parametrize("text", ["机器人听不懂，我要人工", "我要人工"])
def test_asking_for_a_human_is_a_handoff(index, text):
    assert route(text).target == "flow.handoff"


@pytest.mark.parametrize("text,first,second", [
    ("会费交多少，入会有啥好处", "union.dues", "union.benefits"),
    ("加班费怎么算？另外工伤怎么认定？", "legal.overtime_pay", "legal.work_injury"),
    ("离职证明公司不给开怎么办，还有竞业限制有补偿吗", "legal.separation_certificate", "legal.non_compete"),
    ("仲裁要多久？调解要钱吗", "legal.arbitration", "legal.mediation"),          # 多久 asks too
    ("试用期不给交社保，加班还没有加班费，怎么办", "legal.social_insurance",      # two problems, then
     "legal.overtime_pay"),                                                        # a bare 怎么办
])
def test_a_second_different_question_is_found(index, text, first, second):
    r = route(text)
    assert {r.target, r.second} == {first, second}, r


@pytest.mark.parametrize("text", [
    "加班费怎么算",
    "我在工地干了三年，老板一直拖着工资不给，怎么办",          # context, then one question
    "加班费怎么算？加班工资是几倍？",                          # the same question twice
    "你好，请问加班费怎么算",
    "公司一直不交社保，我辞职能要补偿吗",                      # a problem, then the one question
    "我在厂里干了五年，上个月被辞退了，怎么办",
])
def test_one_question_has_no_second(index, text):
    assert route(text).second is None


# ------------------------------------------------------------------ issue 13: unseen wording

@pytest.mark.parametrize("text,target", [
    ("我在洗车店干活，老板三个月没发工资", "legal.wage_arrears"),   # a job and a workplace no example names
    ("在仓库当叉车工，手被压伤了算工伤吗", "legal.work_injury"),
    ("在外地卡着回不去，公司说算旷工咋整", "legal.delayed_return"),
    ("会员有啥羊毛可薅", "service.member_discounts"),                # slang
    ("工会发的电影票怎么领", "service.member_discounts"),            # 电影 inside 电影票 is no film
    ("我在英国公司的上海办公室上班，辞职要提前多久", "legal.resignation"),  # abroad, but their own job
])
def test_unseen_jobs_places_and_slang_still_route(index, text, target):
    assert route(text).target == target, route(text)


@pytest.mark.parametrize("text", [
    "在英国辞职要提前多久",          # a topic word (辞职) does not make it the worker's own job
    "你好，明天会下雨吗",            # a greeting does not make a question about the weather ours
])
def test_a_topic_or_a_greeting_alone_does_not_bring_a_question_into_scope(index, text):
    assert route(text).target == "fallback", route(text)


@pytest.mark.parametrize("text", [
    "你好，我是一名电焊工", "您好 我想咨询个事", "你好在吗？我想问个问题",   # only announce a question
    "泥好", "早晨", "亲 在不",                                               # typo, Cantonese, shop talk
])
def test_a_greeting_that_only_announces_a_question_is_a_greeting(index, text):
    assert route(text).target == "smalltalk.greeting", route(text)


def test_a_window_spelled_only_by_a_rare_reading_is_not_rewritten():
    # 有 is also read wei: 有啥 must not become 为啥 (nor a domain term replace the window)
    corrector = TypoCorrector({"为啥": 2.0, "工资": 3.0}, is_word=lambda w: False)
    assert corrector.correct("有啥办法") == ("有啥办法", [])
    assert corrector.correct("最低公资") == ("最低工资", [])


HELD_OUT = sorted((Path(__file__).parent / "data").glob("heldout*.jsonl"))


@pytest.mark.parametrize("path", HELD_OUT, ids=lambda p: p.name)
def test_held_out_sets_stay_above_a_floor(index, path):
    # A floor that catches a broken router; the figures themselves are in README "Router quality".
    module = _load_score_module()
    if module is None:
        pytest.skip("../shared/eval/score.py not present")
    items = module.load_items(str(path))
    results = [{"text": it["text"], "target": r.target, "score": r.score,
                "candidates": [{"target": t, "score": v} for t, v in r.candidates]}
               for it, r in ((it, route(it["text"])) for it in items)]
    m = module.score(items, results)
    assert m["accuracy"] >= 0.95 and m["rejection"] >= 0.93, (m["accuracy"], m["rejection"])


# ------------------------------------------------------------------ reloads and the disk cache

@pytest.fixture
def faq_copy(tmp_path, monkeypatch):
    """A copy of the FAQ directory this process's router is pointed at, with its own cache."""
    import shutil

    from bot.faq import store as faq_store
    from bot.nlu import store as nlu_store

    directory = tmp_path / "faq"
    shutil.copytree(faq.DEFAULT_FAQ_DIR, directory)
    monkeypatch.setenv("FAQ_DIR", str(directory))
    monkeypatch.setenv("CONTENT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(faq_store, "RELOAD_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(faq_store, "_holders", {})
    monkeypatch.setattr(nlu_store, "_holders", {})
    monkeypatch.setattr(nlu_store, "_recent", type(nlu_store._recent)())  # nor its indexes in memory
    return directory


@pytest.mark.slow
def test_content_changes_are_built_off_the_message_path_and_broken_ones_never(faq_copy, monkeypatch):
    from bot.nlu import matcher, store

    before = get_index()
    assert route("螃蟹加班费怎么算").target != "legal.annual_leave"
    builds = []
    real_init = matcher.Index.__init__
    monkeypatch.setattr(matcher.Index, "__init__", lambda self, cat, **kw: builds.append(cat.version)
                        or real_init(self, cat, **kw))
    # a broken edit: refused by the FAQ loader, never rebuilt, answering goes on unchanged
    legal = faq_copy / "legal.yaml"
    good_text = legal.read_text(encoding="utf-8")
    legal.write_text(good_text + "\n- id: [broken\n", encoding="utf-8")
    for _ in range(3):
        assert route("加班费怎么算").target == "legal.overtime_pay"
    assert store.wait_for_reload(120) and builds == [] and get_index() is before
    # a valid edit: the message path keeps the old index while the new one is built, then swaps
    anchor = "    - 我工作12年了，年假有几天\n"
    assert anchor in good_text
    legal.write_text(good_text.replace(anchor, anchor + "    - 螃蟹加班费怎么算\n    - 螃蟹年假怎么算\n", 1),
                     encoding="utf-8")
    started = __import__("time").perf_counter()
    assert get_index() is before                             # returned at once, the build runs aside
    assert __import__("time").perf_counter() - started < 1.0
    assert store.wait_for_reload(300)
    assert len(builds) == 1 and get_index() is not before
    assert route("螃蟹加班费怎么算").target == "legal.annual_leave"


@pytest.mark.slow
def test_a_restart_loads_the_cached_index_instead_of_building(faq_copy, monkeypatch):
    from bot.nlu import matcher
    from bot.nlu import store as nlu_store
    from bot.faq import store as faq_store

    built = get_index()
    assert list((faq_copy.parent / "cache").glob("router-*.pickle"))
    monkeypatch.setattr(faq_store, "_holders", {})                 # a new process …
    monkeypatch.setattr(nlu_store, "_holders", {})
    monkeypatch.setattr(nlu_store, "_recent", type(nlu_store._recent)())  # nor its indexes in memory
    monkeypatch.setattr(matcher.Index, "__init__", lambda *a, **k: pytest.fail("rebuilt"))
    loaded = get_index()                                           # … loads the snapshot
    assert loaded is not built and loaded.version == built.version
    assert route("加班费怎么算").target == "legal.overtime_pay"
    # a process that starts while faq/ is out of step with the topics contract still answers,
    # from the last good content and its saved index, without building anything
    flows = faq_copy / "flows.yaml"
    flows.write_text(flows.read_text(encoding="utf-8").split("- id: flow.handoff")[0], encoding="utf-8")
    with pytest.raises(faq.FaqError):
        faq.load(faq_copy)
    monkeypatch.setattr(faq_store, "_holders", {})
    monkeypatch.setattr(nlu_store, "_holders", {})
    monkeypatch.setattr(nlu_store, "_recent", type(nlu_store._recent)())  # nor its indexes in memory
    assert get_index().version == built.version
    assert route("转人工").target == "flow.handoff" and faq.title("flow.handoff")


# ------------------------------------------------------------------ issue 14: start-up

@pytest.mark.slow
def test_a_saved_index_routes_typos_in_a_new_process_without_pypinyin_or_cn2an(tmp_path):
    # Serving loads the index saved by the build and never imports pypinyin (0.4 s) or cn2an
    # (0.1 s) before a message needs them; a homophone typo is still corrected from the saved
    # readings, and a Chinese numeral still reads as a number once cn2an is needed.
    import os
    import subprocess
    import sys

    env = {**os.environ, "CONTENT_CACHE_DIR": str(tmp_path / "cache")}
    probe = ("import json, sys; from bot.nlu import get_index, route, normalise; get_index(); "
             "loaded = sorted(m for m in ('pypinyin', 'cn2an') if m in sys.modules); "
             "typo = route('法定节假日家班费是几倍').target; "
             "before_numeral = 'pypinyin' in sys.modules; "
             "print(json.dumps([loaded, typo, before_numeral, normalise('三个月没发工资')]))")
    run = lambda: json.loads(subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,  # noqa: E731
                                            text=True, timeout=300, check=True).stdout.strip().splitlines()[-1])
    run()  # builds the index and saves it under CONTENT_CACHE_DIR
    assert list((tmp_path / "cache").glob("router-*")), "the build saved no index"
    loaded, typo, pypinyin_after_routing, numeral = run()  # a new process: loads the saved index
    assert loaded == []
    assert typo == "legal.overtime_pay"
    assert pypinyin_after_routing is False
    assert numeral.startswith("3个月")
