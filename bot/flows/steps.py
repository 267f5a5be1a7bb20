"""Flow building blocks: Step (a transitions State that asks a question) and shared answer parsers.

A parser takes the worker's text and returns a JSON-serialisable value, or raises Invalid with a
hint that shows the worker a concrete example. Parsers never let another exception escape.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta

import phonenumbers
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from bot.clock import local_now
from bot.context import small_number


class Invalid(ValueError):
    """The answer did not fit. `hint` says what we expect, with an example the parser accepts;
    `unclear` marks an answer we could not read at all (the reply then starts "没看懂您的回答"),
    as opposed to one we understood but cannot take (too long, a date in the past…)."""

    def __init__(self, hint: str, unclear: bool = True):
        super().__init__(hint)
        self.hint, self.unclear = hint, unclear

    def message(self) -> str:
        return f"没看懂您的回答：{self.hint}" if self.unclear else self.hint


def slot_is(slot: str, value):
    """A transition condition: the answer stored in `slot` equals `value` (named for diagrams)."""

    def condition(event):
        return event.model.slots.get(slot) == value

    condition.__name__ = f"{slot}_is_{value}"
    return condition


Parser = Callable[[str], object]

# -- bounded input (issue 15) ----------------------------------------------------------------------
# A parser refuses an answer longer than its bound before it does any work, so no answer costs more
# than a short one, however long it is: cn2an.transform takes time cubic in a run of digits, int()
# refuses more than 4,300 digits, cn2an.cn2an overflows a float. The bounds are far above any real
# answer (the longest date, 二〇二二年十二月三十一日, has 12 characters).
SHORT_ANSWER = 60  # numbers, choices, yes / no, dates, temperatures, phone and ID numbers, names
MAX_DATE_CHARS = 20  # after spaces are removed; what reaches cn2an.transform
TOO_LONG = "回复太长了。"


def hint_for(parse: Parser) -> str:
    """The hint a parser gives for an empty answer (every parser refuses one): its usual re-ask."""
    try:
        parse("")
    except Invalid as exc:
        return exc.hint
    return "请按提示简短回复。"


def bounded(limit: int = SHORT_ANSWER):
    """Decorator: answers longer than `limit` characters are refused with the parser's own hint."""

    def decorate(parse: Parser) -> Parser:
        @functools.wraps(parse)
        def parse_bounded(text: str):
            if len(text or "") > limit:
                raise Invalid(TOO_LONG + hint_for(parse), unclear=False)
            return parse(text)

        return parse_bounded

    return decorate


def clean(text: str) -> str:
    """Full-width → half-width (NFKC) and outer whitespace/punctuation stripped."""
    return unicodedata.normalize("NFKC", text or "").strip().strip("。.!！?？~～ ")


def simple(text: str) -> str:
    """clean() plus Traditional → Simplified, for answers compared with our own words."""
    from bot.chinese import to_simplified

    return to_simplified(clean(text))


def number(text: str) -> int | None:
    """1 / １ / 一 / 第一个 → 1; None when the text is not a small number (1–99). Bounded: it reads at
    most a few characters, whatever the worker sends (bot.context.small_number)."""
    return small_number(text)


def choice(options: list[str]) -> Parser:
    listing = "、".join(f"{i} {o}" for i, o in enumerate(options, 1))

    @bounded()
    def parse(text: str) -> str:
        n = number(text)
        if n is not None and 1 <= n <= len(options):
            return options[n - 1]
        t = simple(text)
        matches = [o for o in options if t and (t == o or t in o or o in t)]
        if len(matches) == 1:
            return matches[0]
        raise Invalid(f"请回复序号（1–{len(options)}）：{listing}。例如回复 1")

    return parse


def multi_choice(options: list[str], none_option: str) -> Parser:
    """Several numbers at once: "1 3", "1、3", "13" (options < 10), or the words themselves."""

    @bounded()
    def parse(text: str) -> list[str]:
        t = simple(text)
        picked: list[str] = []
        for part in re.split(r"[\s,，、;；和及]+", t):
            if not part:
                continue
            n = number(part)
            if n is not None and 1 <= n <= len(options):
                picked.append(options[n - 1])
            elif part.isdecimal() and len(options) < 10 and all(1 <= int(c) <= len(options) for c in part):
                picked += [options[int(c) - 1] for c in part]
            elif part in options:
                picked.append(part)
            else:
                picked = []
                break
        picked = list(dict.fromkeys(picked))
        if not picked or (none_option in picked and len(picked) > 1):
            listing = "、".join(f"{i} {o}" for i, o in enumerate(options, 1))
            raise Invalid(f"请回复序号，可多选，用空格隔开：{listing}。例如：1 3；没有症状回复 {len(options)}")
        return picked

    return parse


YES_WORDS = {"1", "是", "是的", "对", "好", "好的", "确认", "确定", "可以", "同意", "提交", "yes", "y", "ok"}
NO_WORDS = {"2", "否", "不", "不是", "不对", "不同意", "不要", "没有", "还没有", "还没", "没", "重新", "重新填写", "修改",
            "no", "n"}


def yes_no(yes: str = "提交", no: str = "修改") -> Parser:
    """1 / 2, yes and no in words, and the two options' own labels (回复 1 已报到 → 已报到)."""
    yes_words, no_words = YES_WORDS | {simple(yes).lower()}, NO_WORDS | {simple(no).lower()}

    @bounded()
    def parse(text: str) -> bool:
        t = simple(text).lower()
        n = number(t)
        if t in yes_words or n == 1:
            return True
        if t in no_words or n == 2:
            return False
        raise Invalid(f"请回复 1 {yes}，或回复 2 {no}（也可以直接回复「{yes}」或「{no}」）")

    return parse


def free_text(max_len: int = 300, min_len: int = 2, example: str = "") -> Parser:
    def parse(text: str) -> str:
        t = (text or "").replace("\x00", "").strip()  # nobody types a NUL; PostgreSQL cannot store one
        if len(t) < min_len:
            raise Invalid(f"内容太短了，请多写几个字{('，例如：' + example) if example else ''}", unclear=False)
        if len(t) > max_len:
            raise Invalid(f"内容太长了（{len(t)}字），请精简到{max_len}字以内再发一次。", unclear=False)
        return t

    return parse


@bounded()
def phone(text: str) -> str:
    """Mainland mobile number; tolerates spaces, dashes, dots, +86 / 0086 and full-width digits.

    Only digits are read: phonenumbers alone would turn letters into keypad digits
    ("138ABCD5678") and accept extensions ("13812345678x12").
    """
    t = re.sub(r"[\s\-–—.()（）]", "", clean(text))
    m = re.fullmatch(r"(?:\+?86|0086)?(1\d{10})", t)
    try:
        parsed = phonenumbers.parse(m.group(1), "CN") if m else None
        ok = (parsed is not None and phonenumbers.is_valid_number(parsed)
              and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE)
    except phonenumbers.NumberParseException:  # e.g. an IP-dialling prefix such as 17951
        ok = False
    if not ok:
        raise Invalid("请输入11位手机号，例如：13812345678")
    return m.group(1)


@bounded()
def id_card(text: str) -> str:
    """18-digit resident ID with the GB 11643 check digit; lower-case x accepted."""
    t = re.sub(r"\s", "", clean(text)).upper()
    try:
        # Not ric.validate(): it also looks the region up in a list of current and past codes,
        # and a real, older card must not be refused for a code missing from that list.
        if not re.fullmatch(r"\d{17}[\dX]", t) or ric.calc_check_digit(t) != t[-1]:
            raise ValidationError()
        if not date(1900, 1, 1) <= ric.get_birth_date(t) <= local_now().date():
            raise ValidationError()
        return t
    except (ValidationError, ValueError, TypeError):
        raise Invalid("这个身份证号不对（位数或最后一位校验码不符），请核对后重新输入18位号码，例如：11010519491231002X",
                      unclear=False) from None


@bounded()
def temperature(text: str) -> float:
    """Body temperature in °C, 35.0–42.0: "36.5", "36度5", "三十六点五"."""
    t = re.sub(r"\s", "", simple(text)).removeprefix("体温").removeprefix("是")
    t = re.sub(r"(摄氏度|°C|°c|°|度)$", "", t)  # NFKC has already turned ℃ into °C
    t = t.replace("。", ".").replace("度", ".").replace("点", ".")  # 36度5, 36。5 (a full stop for the point)
    try:
        if re.fullmatch(r"\d{2}(\.\d{1,2})?", t):
            value = float(t)
        elif re.fullmatch(r"[零〇一二两三四五六七八九十]+(\.[零〇一二三四五六七八九]+)?", t):
            import cn2an  # 0.1 s to import: paid by the first such answer, not by every start

            value = float(cn2an.cn2an(t.replace(".", "点"), "smart"))  # 三十六点五, 三六点五
        else:
            value = None
    except (ValueError, KeyError, TypeError, IndexError, OverflowError):
        value = None
    if value is None or not 35.0 <= value <= 42.0:
        raise Invalid("请输入体温（35.0–42.0 之间的数字），例如：36.5")
    return round(value, 1)


WEEKDAYS = "一二三四五六日天"
RELATIVE_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3, "昨天": -1, "前天": -2}
DATE_HINT = "请输入日期，例如：明天、5月23日、2022-05-23"


def span(first: date, last: date | None = None, joiner: str = "到") -> str:
    """5月23日, or 5月23日到5月29日; with the years when the dates are not all in this year
    (2026年12月28日到2027年1月11日), so a range across the new year cannot be misread."""
    days = [first] if last is None else [first, last]
    this_year = local_now().year
    with_year = any(d.year != this_year for d in days)
    labels = [f"{d.year}年{d.month}月{d.day}日" if with_year else f"{d.month}月{d.day}日" for d in days]
    return joiner.join(labels)


def nearest_year(candidates: list[date], today: date) -> date:
    """A month and day without a year mean this year, except across the turn of the year: in
    December 1月5日 is next January, in January 12月28日 was last December (within ~3 months)."""
    this_year = [d for d in candidates if d.year == today.year]
    near = [d for d in candidates if abs((d - today).days) <= 92]
    if this_year and (abs((this_year[0] - today).days) <= 183 or not near):
        return this_year[0]
    return min(near or candidates, key=lambda d: abs((d - today).days))


def parse_date_phrase(text: str, today: date) -> date:
    """Chinese date phrases → date. Hand-written: no maintained library reads 下周一 / 5月23日."""
    if len(text or "") > SHORT_ANSWER:
        raise Invalid(TOO_LONG + DATE_HINT, unclear=False)
    t = re.sub(r"\s", "", simple(text))
    if len(t) > MAX_DATE_CHARS:  # cn2an.transform below takes time cubic in the length of a digit run
        raise Invalid(TOO_LONG + DATE_HINT, unclear=False)
    # 二〇二二年 digit by digit (cn2an reads 二〇二二 as a number, not a year)
    t = re.sub(r"[〇零一二三四五六七八九]{4}(?=年)", lambda y: "".join(str("〇一二三四五六七八九".index(c.replace("零", "〇")))
                                                                for c in y.group()), t)
    import cn2an  # 0.1 s to import: paid by the first date answer, not by every start

    try:
        t = cn2an.transform(t, "cn2an")
    except (ValueError, KeyError, TypeError, IndexError, OverflowError):
        pass
    if t in RELATIVE_DAYS:
        return today + timedelta(days=RELATIVE_DAYS[t])
    m = re.fullmatch(r"(下下|下|这|本)?个?(?:周|星期|礼拜)([一二三四五六日天1-7])", t)
    if m:
        wd = WEEKDAYS.index(m.group(2)) if m.group(2) in WEEKDAYS else int(m.group(2)) - 1
        wd = min(wd, 6)
        monday = today - timedelta(days=today.weekday())
        weeks = {"下下": 2, "下": 1}.get(m.group(1) or "", 0)
        return monday + timedelta(weeks=weeks, days=wd)
    m = (re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?", t)
         or re.fullmatch(r"()(\d{1,2})[-/.月](\d{1,2})[日号]?", t))
    if m:
        years = [int(m.group(1))] if m.group(1) else [today.year - 1, today.year, today.year + 1]
        candidates = []
        for year in years:
            try:
                candidates.append(date(year, int(m.group(2)), int(m.group(3))))
            except ValueError:
                pass
        if candidates:
            return nearest_year(candidates, today)
    m = re.fullmatch(r"(\d{1,2})[日号]", t)  # 23号: this month
    if m:
        try:
            return today.replace(day=int(m.group(1)))
        except ValueError:
            pass
    raise Invalid(DATE_HINT)


def date_phrase(min_days: int | None = None, max_days: int | None = None) -> Parser:
    """A date within [today+min_days, today+max_days] (local time); stored as ISO text."""

    def parse(text: str) -> str:
        today = local_now().date()
        day = parse_date_phrase(text, today)
        if min_days is not None and day < today + timedelta(days=min_days):
            raise Invalid("这个日期已经过去了。" + DATE_HINT, unclear=False)
        if max_days is not None and day > today + timedelta(days=max_days):
            raise Invalid(f"日期太远了，请选{max_days}天以内的日期。" + DATE_HINT, unclear=False)
        return day.isoformat()

    return parse


def future_date(max_days: int = 60) -> Parser:
    return date_phrase(min_days=0, max_days=max_days)
