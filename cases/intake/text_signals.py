"""Case flags from the customer's own words at intake.

STANDARDS S1.1 sends product-safety problems and outages down the urgent (emergency) path and major
complaints to the complex tier, and the standard asks for that classification to be automatic at
intake (STANDARDS S12.2). A backend does not always set the flags, but the description nearly
always says it: "充电宝冒烟了", "I'm going to call my lawyer". A case that should be urgent and is
filed as general loses most of its response time before a person reads it, so the description is
read for the policy's signal phrases as soon as the case opens.

Customers write in either Chinese script, with full-width or half-width letters and digits, in any
case, and mix Chinese and English in one sentence; the policy writes each phrase once. Both sides
are therefore folded to one form before they are compared (`normalise`). The matcher is a pure
function of its inputs so the workflow can call it and get the same flags on replay.

Matching rules (`find_signals`):

- A phrase that starts with an ASCII letter or digit must not be preceded by one, so "fire" is not
  found in "misfired" and "12315" not in "4001231500".
- A phrase that ends with an ASCII letter may be followed by one of the suffixes "s", "es", "ed" or
  "ing", and then must not be followed by an ASCII letter or digit: "burn" matches "burns",
  "burned" and "burning" but not "burner"; "fire" matches "fire!" and "fires" but not "firewall".
  There is no bare "d" suffix, so "fire" does not match "fired" (a complaint about staff), and a
  stem ending in "e" lists its past tense itself ("exploded", "sued"); irregular forms ("burnt")
  are listed too. A phrase that ends with a digit takes no suffix.
- Chinese characters are not separated by spaces, so a phrase edge that is not an ASCII letter or
  digit is not guarded: "冒烟" is found anywhere, and "fire" is found in "手机fire了".
- There is no negation guard: "没有冒烟" still finds "冒烟". A case made urgent by mistake is
  re-tiered when someone reads it; a safety case filed as general has lost its response time by
  then.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Final

from cases.intake.hanzi import TRADITIONAL_TO_SIMPLIFIED

# The phrases are written in simplified script; traditional text finds them through `normalise`.
# 著火 is listed as well because 著 is also a simplified character (著作) and is not folded to 着.
# English phrases that ordinary complaints use in another sense are left out or narrowed: "shock"
# ("shocked by the price"), "press" ("pressed the button"), "media" and even "the media" ("the
# media player").
DEFAULT_SIGNALS: Final[dict[str, tuple[str, ...]]] = {
    "safety_risk": (
        "起火", "着火", "著火", "冒烟", "冒火花", "爆炸", "漏电", "触电", "电击", "烫伤", "烧伤", "烧焦", "自燃",
        "燃烧", "鼓包", "短路",
        "fire", "smoke", "smoking", "burn", "burnt", "electric shock", "electrocuted", "explode",
        "exploded", "explosion", "overheat", "sparks", "sparking", "short circuit", "swollen battery",
    ),
    "outage": (
        "无法登录", "登录不了", "登录不上", "系统崩溃", "系统瘫痪", "服务中断", "宕机", "全部无法使用",
        "outage", "service down", "system down", "cannot log in", "can't log in", "unable to log in",
    ),
    "major_complaint": (
        "媒体", "曝光", "记者", "起诉", "律师", "法院", "12315", "消协", "消费者协会", "投诉到", "市场监管",
        "lawyer", "attorney", "lawsuit", "sue", "sued", "suing", "legal action", "journalist", "reporter",
        "to the media", "social media", "to the press", "regulator",
    ),
}

_WHITESPACE = re.compile(r"\s+")
_WORD = "A-Za-z0-9"
_SUFFIX = "(?:s|es|ed|ing)?"

# Han ideographs: the basic block, extension A, the compatibility block, and the supplementary
# planes' extensions. A text with one of them is Chinese even when most of it is English.
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U0003134f]")


def normalise(text: str) -> str:
    """`text` folded so that any width, case or Chinese script of a phrase compares equal.

    NFKC turns full-width letters, digits and spaces into their ordinary forms; casefold goes
    further than lower() ("Straße" and "STRASSE" fold alike); traditional characters become
    simplified; runs of whitespace become one space and the ends are trimmed. NFKC runs again after
    casefold because folding can leave a sequence that NFKC would recompose, and the result must be
    a fixed point: normalise(normalise(x)) == normalise(x).
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _WHITESPACE.sub(" ", folded.translate(TRADITIONAL_TO_SIMPLIFIED)).strip()


@lru_cache(maxsize=1024)
def _normalised_phrase(phrase: str) -> str:
    # The policy's phrases are the same for every case; only the text read changes.
    return normalise(phrase)


@lru_cache(maxsize=1024)
def _pattern(phrase: str) -> re.Pattern[str] | None:
    """The compiled matcher for an already normalised phrase, or None for an empty one."""
    if not phrase:
        return None
    head = f"(?<![{_WORD}])" if phrase[0].isascii() and phrase[0].isalnum() else ""
    last = phrase[-1]
    if last.isascii() and last.isalpha():
        tail = f"{_SUFFIX}(?![{_WORD}])"
    elif last.isascii() and last.isdigit():
        tail = f"(?![{_WORD}])"
    else:
        tail = ""
    return re.compile(head + re.escape(phrase) + tail)


def find_signals(text: str, phrases: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """For each flag, the policy's phrases found in `text`, in the policy's order and spelling.

    Flags with no phrase found are absent. Two phrases that normalise alike (媒體 and 媒体) are
    one phrase, reported in the spelling listed first. A phrase that normalises to nothing is
    ignored rather than found everywhere.
    """
    haystack = normalise(text)
    found: dict[str, list[str]] = {}
    for flag, listed in phrases.items():
        # A bare string is a Sequence[str] too, and would be matched one character at a time.
        if isinstance(listed, str):
            raise TypeError(f"the phrases of {flag!r} must be a list of phrases, not a string")
        seen: set[str] = set()
        hits: list[str] = []
        for phrase in listed:
            key = _normalised_phrase(phrase)
            if key in seen:
                continue
            seen.add(key)
            pattern = _pattern(key)
            if pattern is not None and pattern.search(haystack):
                hits.append(phrase)
        if hits:
            found[flag] = hits
    return found


def detect_language(text: str) -> str:
    """"zh" when `text` has any Han character, else "en"."""
    return "zh" if _HAN.search(text) else "en"
