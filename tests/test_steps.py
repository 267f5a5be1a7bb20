"""The shared answer parsers (bot/flows/steps.py): tables of what workers type, and hypothesis properties.

Every parser either returns a value or raises Invalid (whose hint shows an example); nothing
else may escape, whatever the worker sends.
"""
from __future__ import annotations

from datetime import date, timedelta

import cn2an
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.flows import steps
from bot.flows.steps import Invalid

TODAY = date(2022, 5, 20)  # a Friday
FULL_WIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")
fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hint_of(parse, text) -> str:
    with pytest.raises(Invalid) as exc:
        parse(text)
    assert "例如" in exc.value.hint  # every hint shows a concrete example
    return exc.value.hint


# -- phone ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "+8613812345678", "8613812345678",
    "0086 13812345678", "１３８１２３４５６７８", "＋８６ １３８ １２３４ ５６７８", "(+86) 138-1234-5678",
    "138—1234—5678", " 13812345678。", "138.1234.5678",
])
def test_phone_accepts_common_ways_of_writing_a_mobile(text):
    assert steps.phone(text) == "13812345678"


@pytest.mark.parametrize("text", [
    "", "1381234567", "138123456789", "12345678901", "010-12345678", "02112345678", "+1 650 253 0000",
    "1381234ABCD",          # letters are not turned into digits (phone-keypad vanity numbers)
    "13812345678x", "13812345678 ext 12", "13812345678;ext=1",  # no extensions
    "17951 13812345678",    # an IP-dialling prefix in front
    "tel:13812345678", "手机13812345678号码", "我没有手机",
])
def test_phone_rejects_what_is_not_a_mainland_mobile(text):
    assert "13812345678" in hint_of(steps.phone, text)


MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "147", "150", "151", "152",
                   "153", "155", "156", "157", "158", "159", "166", "177", "180", "181", "186", "187", "188",
                   "189", "191", "198", "199"]
mobiles = st.builds(lambda p, rest: p + rest, st.sampled_from(MOBILE_PREFIXES),
                    st.text("0123456789", min_size=8, max_size=8))


def spaced(number: str, sep: str) -> str:
    return f"{number[:3]}{sep}{number[3:7]}{sep}{number[7:]}"


@fast
@given(number=mobiles, sep=st.sampled_from(["", " ", "-", "  ", " - "]),
       prefix=st.sampled_from(["", "+86", "+86 ", "86", "0086 ", "(+86)"]), wide=st.booleans())
def test_any_valid_mobile_in_any_format_is_read(number, sep, prefix, wide):
    text = prefix + spaced(number, sep)
    assert steps.phone(text.translate(FULL_WIDTH) if wide else text) == number


@fast
@given(number=mobiles, cut=st.integers(1, 3))
def test_a_mobile_missing_digits_or_with_extra_digits_is_rejected(number, cut):
    with pytest.raises(Invalid):
        steps.phone(number[:-cut])
    with pytest.raises(Invalid):
        steps.phone(number + "0" * cut)


@fast
@given(first=st.sampled_from("023456789"), rest=st.text("0123456789", min_size=10, max_size=10))
def test_eleven_digits_not_starting_with_1_are_rejected(first, rest):
    with pytest.raises(Invalid):
        steps.phone(first + rest)


# -- ID number (GB 11643) ---------------------------------------------------------------------------

WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def check_digit(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


@st.composite
def id_numbers(draw):
    region = draw(st.sampled_from("123456789")) + draw(st.text("0123456789", min_size=5, max_size=5))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    seq = draw(st.text("0123456789", min_size=3, max_size=3))
    first17 = f"{region}{born:%Y%m%d}{seq}"
    return first17 + check_digit(first17)


@pytest.mark.parametrize("text,expected", [
    ("11010519491231002X", "11010519491231002X"),
    ("11010519491231002x", "11010519491231002X"),
    ("110105 19491231 002X", "11010519491231002X"),
    ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
    ("990000200001010012", "990000200001010012"),  # a region code no list knows: the check digit decides
])
def test_id_number_table(text, expected):
    assert steps.id_card(text) == expected


@pytest.mark.parametrize("text", [
    "", "11010519491231002", "11010519491231002X1", "110105194912310021", "110105194913310029",
    "110105194902300020", "110105189912310015", "11010520300101001X", "11010549491231002X", "1101051949123100２Y", "身份证号11010519491231002X",
])
def test_id_number_table_rejects(text):
    assert "11010519491231002X" in hint_of(steps.id_card, text)


@fast
@given(number=id_numbers(), lower=st.booleans())
def test_a_valid_id_number_is_accepted(number, lower):
    assert steps.id_card(number.lower() if lower else number) == number


@fast
@given(number=id_numbers(), position=st.integers(0, 17), data=st.data())
def test_changing_any_one_digit_is_caught(number, position, data):
    alphabet = "0123456789X" if position == 17 else "0123456789"
    new = data.draw(st.sampled_from([c for c in alphabet if c != number[position]]))
    with pytest.raises(Invalid):
        steps.id_card(number[:position] + new + number[position + 1:])


# -- dates ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("今天", "2022-05-20"), ("明天", "2022-05-21"), ("后天", "2022-05-22"), ("大后天", "2022-05-23"),
    ("後天", "2022-05-22"), ("昨天", "2022-05-19"), ("前天", "2022-05-18"),
    ("下周一", "2022-05-23"), ("下星期三", "2022-05-25"), ("下礼拜天", "2022-05-29"), ("下下周三", "2022-06-01"),
    ("下个星期一", "2022-05-23"), ("下個星期一", "2022-05-23"), ("这周日", "2022-05-22"), ("本周五", "2022-05-20"),
    ("周一", "2022-05-16"), ("下周7", "2022-05-29"),
    ("5月23日", "2022-05-23"), ("5月23号", "2022-05-23"), ("五月二十三日", "2022-05-23"), ("5.23", "2022-05-23"),
    ("5/23", "2022-05-23"), ("2022-05-23", "2022-05-23"), ("2022/5/23", "2022-05-23"),
    ("2022年5月23日", "2022-05-23"), ("二〇二二年五月二十三日", "2022-05-23"), ("２０２２－０５－２３", "2022-05-23"),
    ("23号", "2022-05-23"), ("23日", "2022-05-23"), ("十二月一日", "2022-12-01"),
])
def test_date_phrases(text, expected):
    assert steps.parse_date_phrase(text, TODAY).isoformat() == expected


@pytest.mark.parametrize("text", ["过几天吧", "明天下午", "2月30日", "13月1日", "0月0日", "下周8", "周0", "32号", ""])
def test_unclear_dates_are_rejected(text):
    assert "5月23日" in hint_of(lambda t: steps.parse_date_phrase(t, TODAY), text)


@fast
@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       pattern=st.sampled_from(["{d:%Y-%m-%d}", "{d.year}/{d.month}/{d.day}", "{d.year}年{d.month}月{d.day}日",
                                "{d.year}.{d.month}.{d.day}", "{d.year}年{d.month}月{d.day}号"]))
def test_full_dates_in_any_common_spelling(day, pattern):
    assert steps.parse_date_phrase(pattern.format(d=day), TODAY) == day


@fast
@given(day=st.dates(min_value=date(2022, 1, 1), max_value=date(2022, 12, 31)), chinese=st.booleans())
def test_month_and_day_mean_this_year(day, chinese):
    text = f"{day.month}月{day.day}日"
    if chinese:
        text = f"{cn2an.an2cn(day.month)}月{cn2an.an2cn(day.day)}日"
    assert steps.parse_date_phrase(text, TODAY) == day


@fast
@given(today=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       weekday=st.integers(0, 6), weeks=st.sampled_from([("这", 0), ("下", 1), ("下下", 2)]))
def test_weekday_phrases_land_on_that_weekday_of_that_week(today, weekday, weeks):
    word, n = weeks
    got = steps.parse_date_phrase(f"{word}周{'一二三四五六日'[weekday]}", today)
    assert got.weekday() == weekday
    assert (got - timedelta(days=got.weekday())) - (today - timedelta(days=today.weekday())) == timedelta(weeks=n)


@pytest.mark.parametrize("text,why", [("明天", None), ("今天", None), ("昨天", "过去"), ("5月19日", "过去"),
                                      ("7月18日", None), ("7月20日", "太远")])
def test_future_date_keeps_to_its_window(clock, text, why):
    clock.set("2022-05-20 23:30")  # late evening in Beijing: 今天 is still the 20th
    parse = steps.future_date(max_days=60)
    if why is None:
        assert parse(text) >= "2022-05-20"
    else:
        assert why in hint_of(parse, text)


# -- temperatures -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("36.5", 36.5), ("36度5", 36.5), ("三十六点五", 36.5), ("三十六度五", 36.5), ("36.5℃", 36.5),
    ("36.5°C", 36.5), ("36.5 ℃", 36.5), ("36.5度", 36.5), ("36", 36.0), ("35", 35.0), ("42", 42.0),
    ("３６．５", 36.5), ("三十七", 37.0), ("三六点五", 36.5), ("36度", 36.0), ("三十六点五度", 36.5),
    ("36。5", 36.5), ("体温36.5", 36.5), ("36.8摄氏度", 36.8), ("37点2", 37.2),
])
def test_temperature_table(text, expected):
    assert steps.temperature(text) == expected


@pytest.mark.parametrize("text", ["42.1", "34.9", "98.6", "1", "365", "nan", "inf", "1e1", "正常", "", "36.5.1"])
def test_temperature_table_rejects(text):
    assert "36.5" in hint_of(steps.temperature, text)


tenths = st.integers(350, 420).map(lambda n: n / 10)


def spellings(value: float) -> list[str]:
    whole, tenth = divmod(round(value * 10), 10)
    chinese = cn2an.an2cn(str(whole)) + (f"点{cn2an.an2cn(str(tenth))}" if tenth else "")
    return [f"{value}", f"{value}℃", f"{value}度", f"{value} °C", f"{whole}度{tenth}", chinese, chinese + "度",
            f"{value}".translate(FULL_WIDTH)]


@fast
@given(value=tenths, data=st.data())
def test_any_normal_temperature_in_any_spelling_is_read(value, data):
    text = data.draw(st.sampled_from(spellings(value)))
    assert steps.temperature(text) == value


@fast
@given(value=st.one_of(st.integers(200, 349), st.integers(421, 600)).map(lambda n: n / 10))
def test_temperatures_outside_35_to_42_are_rejected(value):
    for text in spellings(value):
        with pytest.raises(Invalid):
            steps.temperature(text)


# -- numbers and choices --------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("1", 1), ("１", 1), ("一", 1), ("壹", 1), ("第一个", 1), ("第2项", 2), ("十", 10), ("１０", 10), ("两", 2),
    ("1.5", None), ("好的", None), ("", None), ("᧚", None),
])
def test_number(text, expected):
    assert steps.number(text) == expected


@pytest.mark.parametrize("text,expected", [("2", "工伤"), ("２", "工伤"), ("二", "工伤"), ("工伤", "工伤"),
                                           ("欠薪", "欠薪"), ("其他", "其他")])
def test_choice(text, expected):
    assert steps.choice(["欠薪", "工伤", "其他"])(text) == expected


@pytest.mark.parametrize("text,expected", [("1", True), ("是", True), ("確認", True), ("好的", True), ("OK", True),
                                           ("2", False), ("不对", False), ("重新填写", False), ("二", False)])
def test_yes_no(text, expected):
    assert steps.yes_no()(text) is expected


@pytest.mark.parametrize("text,expected", [("1 3", ["发热", "乏力"]), ("1、3", ["发热", "乏力"]), ("13", ["发热", "乏力"]),
                                           ("4", ["无"]), ("发热 乏力", ["发热", "乏力"])])
def test_multi_choice(text, expected):
    assert steps.multi_choice(["发热", "咳嗽", "乏力", "无"], none_option="无")(text) == expected


@pytest.mark.parametrize("text", ["1 4", "5", "", "发烧了"])
def test_multi_choice_rejects(text):
    with pytest.raises(Invalid):
        steps.multi_choice(["发热", "咳嗽", "乏力", "无"], none_option="无")(text)


# -- nothing but Invalid ever escapes ------------------------------------------------------------

PARSERS = {
    "phone": steps.phone,
    "id_card": steps.id_card,
    "temperature": steps.temperature,
    "date": lambda text: steps.parse_date_phrase(text, TODAY),
    "choice": steps.choice(["欠薪", "工伤", "其他"]),
    "multi_choice": steps.multi_choice(["发热", "咳嗽", "乏力", "无"], none_option="无"),
    "yes_no": steps.yes_no(),
    "free_text": steps.free_text(max_len=20),
}
# Text that looks a little like an answer finds more corners than uniformly random characters.
answer_like = st.text(alphabet=st.sampled_from(list("0123456789０１２３４５６７８９一二三四五六七八九十百千万亿点度号日月年周下个第.-+/ ")
                                               + ["℃", "°", "X", "x", "e", "〇", "零", "两", "半", "负", "．"]),
                      max_size=24)


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(), answer_like))
@example(text="᧚")
@example(text="\x00")
@example(text="1e400")
def test_parsers_only_ever_raise_invalid(name, text):
    try:
        PARSERS[name](text)
    except Invalid as exc:
        assert exc.hint


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(), answer_like))
@example(text="᧚")
def test_number_never_raises(text):
    assert isinstance(steps.number(text), (int, type(None)))


@pytest.mark.parametrize("text,today,expected", [
    ("1月5日", date(2022, 12, 20), date(2023, 1, 5)),     # in December, early January is next year
    ("12月28日", date(2023, 1, 3), date(2022, 12, 28)),   # in January, late December was last year
    ("5月30日", date(2022, 11, 24), date(2022, 5, 30)),   # otherwise this year
    ("2月29日", date(2023, 12, 20), date(2024, 2, 29)),   # only years where the day exists
])
def test_a_date_without_a_year_across_the_turn_of_the_year(text, today, expected):
    assert steps.parse_date_phrase(text, today) == expected
