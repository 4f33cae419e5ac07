"""How an audit event reads on the customer's timeline: a title in each language, and the few
data fields it may show, written for the customer (STANDARDS S13.3).

An action's spec (`registry`) names its label; the case's own events are labelled in the view
(`cases/views/progress.py`). Only what these details pick reaches the customer: the customer's own
words, words addressed to them, and the references they may quote back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from cases.models import ResolutionType
from cases.platform.law import TITLES

Language = Literal["en", "zh"]


@dataclass(frozen=True)
class Reader:
    """What a timeline entry is written in: the customer's language and the order's currency."""

    lang: Language
    currency: str


Detail = Callable[[dict[str, Any], Reader], list[str]]


@dataclass(frozen=True)
class Label:
    en: str
    zh: str
    detail: Detail | None = None

    def title(self, lang: Language) -> str:
        return self.zh if lang == "zh" else self.en

    def shown(self, data: dict[str, Any], reader: Reader) -> list[str]:
        return self.detail(data, reader) if self.detail is not None else []


PLANS: dict[Language, dict[ResolutionType, str]] = {
    "en": {ResolutionType.REFUND: "refund", ResolutionType.REFUND_ONLY: "refund",
           ResolutionType.RETURN_REFUND: "return and refund", ResolutionType.EXCHANGE: "exchange",
           ResolutionType.REPAIR: "repair", ResolutionType.COMPENSATION: "compensation",
           ResolutionType.EXPLANATION: "explanation"},
    "zh": {ResolutionType.REFUND: "退款", ResolutionType.REFUND_ONLY: "仅退款",
           ResolutionType.RETURN_REFUND: "退货退款", ResolutionType.EXCHANGE: "换货",
           ResolutionType.REPAIR: "维修", ResolutionType.COMPENSATION: "补偿",
           ResolutionType.EXPLANATION: "答复"},
}

_OUTCOMES: dict[Language, dict[str, str]] = {
    "en": {"passed": "passed", "failed": "did not pass", "fixed": "fixed", "not_fixable": "not fixable"},
    "zh": {"passed": "检测通过", "failed": "检测未通过", "fixed": "已修复", "not_fixable": "无法修复"},
}


def fields(*keys: str) -> Detail:
    """The named fields as they are, where they are text or a number."""
    return lambda data, _: [str(data[k]) for k in keys if isinstance(data.get(k), str | int) and data[k] != ""]


def what(kind: ResolutionType, amount: Decimal | None, currency: str | None, lang: Language) -> str:
    plan = PLANS[lang][kind]
    if amount is None or amount <= 0:
        return plan
    money = f"{amount:.2f}" + (f" {currency}" if currency else "")
    return f"{plan}（{money}）" if lang == "zh" else f"{plan} of {money}"


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def plan(data: dict[str, Any], r: Reader) -> list[str]:
    """The plan and its amount in the order's currency."""
    try:
        kind = ResolutionType(str(data.get("type")))
    except ValueError:
        return []
    return [what(kind, _decimal(data.get("amount")), r.currency, r.lang)]


def outcome(data: dict[str, Any], r: Reader) -> list[str]:
    """An inspection's or a repair's result in words, with the repair record."""
    words = [_OUTCOMES[r.lang].get(str(data.get("result")), "")]
    return [w for w in words if w] + fields("repair_record")(data, r)


def inspected(data: dict[str, Any], r: Reader) -> list[str]:
    # The reason for a failed inspection is what the customer is told (`InspectionResult`).
    told = fields("notes")(data, r) if data.get("result") == "failed" else []
    return outcome(data, r) + told


def score(data: dict[str, Any], r: Reader) -> list[str]:
    value = data.get("score")
    return ([f"{value}/5"] if isinstance(value, int) else []) + fields("comment")(data, r)


def asked(data: dict[str, Any], r: Reader) -> list[str]:
    """The remedy asked for, and the rule of the law that entitles it, if one does."""
    shown = plan({"type": data.get("remedy"), "amount": data.get("amount")}, r)
    title = TITLES.get(str(data.get("rule")))
    return shown + ([title[1] if r.lang == "zh" else title[0]] if title else [])


_DECISIONS: dict[Language, dict[str, str]] = {
    "en": {"agree": "agreed", "reject": "declined"},
    "zh": {"agree": "已同意", "reject": "已拒绝"},
}


def answered(data: dict[str, Any], r: Reader) -> list[str]:
    """The merchant's decision, and its reason, which is addressed to the buyer."""
    word = _DECISIONS[r.lang].get(str(data.get("decision")), "")
    return ([word] if word else []) + fields("reason")(data, r)


def asked_of_buyer(data: dict[str, Any], r: Reader) -> list[str]:
    """The arbiter's question, when it is the buyer's to answer."""
    return fields("question")(data, r) if data.get("party") == "buyer" else []


_RULINGS: dict[Language, dict[str, str]] = {
    "en": {"refund": "refund", "return_refund": "return and refund", "exchange": "exchange", "repair": "repair",
           "reject": "request rejected"},
    "zh": {"refund": "退款", "return_refund": "退货退款", "exchange": "换货", "repair": "维修", "reject": "驳回申请"},
}


def ruling(data: dict[str, Any], r: Reader) -> list[str]:
    """The platform's decision in words, with its reason, which is addressed to both parties."""
    word = _RULINGS[r.lang].get(str(data.get("decision")), "")
    return ([word] if word else []) + fields("reason")(data, r)


_PARTIES: dict[Language, dict[str, str]] = {
    "en": {"buyer": "you", "merchant": "the merchant"},
    "zh": {"buyer": "您", "merchant": "商家"},
}


def party(data: dict[str, Any], r: Reader) -> list[str]:
    """Whose evidence or appeal, in the reader's words."""
    word = _PARTIES[r.lang].get(str(data.get("party")), "")
    return [word] if word else []
