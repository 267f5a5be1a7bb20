"""Personal numbers masked before they are stored or logged: the one masking function.

An ID number (18 digits with its check character, or anything that looks like one: 15–18 digits,
spaces and dashes included) and a mainland mobile number (11 digits from 13–19, with +86, spaces
or dashes) are masked wherever a worker typed them: the message log, the route log, hand-off
transcripts, booking descriptions, exports and application logs. Valid or not: a mistyped number
is still someone's number.
"""
from __future__ import annotations

import re

# What an ID number (or a near miss) looks like in a message, spaces and dashes included.
ID_LIKE = re.compile(r"(?<![\dA-Za-z])(?:\d[ \t-]*){14,17}[\dXx](?![\dA-Za-z])")
MOBILE_LIKE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[ \t-]*)?(1[3-9]\d)[ \t-]*(\d{4})[ \t-]*(\d{4})(?!\d)")
_SEPARATORS = re.compile(r"[ \t-]")
# Full-width digits, X and separators read as ASCII; nothing else in the text changes.
_HALF_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ＋－\u3000", "0123456789Xx+- ")


def mask_id_number(value: str) -> str:
    """110105********002X: region and check digits visible, birth date hidden."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_mobile(value: str) -> str:
    """138****5678."""
    digits = re.sub(r"\D", "", value)[-11:]
    return digits[:3] + "****" + digits[-4:]


def mask(text: str | None) -> str:
    """The text with every ID-number-like and mobile-number-like run masked (full-width digits too)."""
    if not text:
        return text or ""
    if not any(c.isdigit() for c in text):  # the common case costs one scan
        return text
    text = text.translate(_HALF_WIDTH)
    text = ID_LIKE.sub(lambda m: mask_id_number(_SEPARATORS.sub("", m.group()).upper()), text)
    return MOBILE_LIKE.sub(lambda m: mask_mobile("".join(m.groups())), text)
