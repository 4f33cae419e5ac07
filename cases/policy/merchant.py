"""A merchant's policy: its own settings laid over the platform's.

A merchant may hold itself to more than the platform asks, never to less (STANDARDS S14.2).
Each key a merchant may set says which way is stricter: a target no longer than the platform's,
a return window no shorter, an approval threshold no higher, working hours that take in the
platform's. A key it may not set, or a looser value, is refused naming the key. The merged policy
is an ordinary `Policy`, so its snapshot is captured in the case's history like the platform's.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Callable, Iterator, Mapping
from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from cases.clocks.durations import parse_duration
from cases.policy.snapshot import Policy, PolicyError, describe_problems

Check = Callable[[Any, Any, float], str | None]  # (merchant's value, platform's, working day) -> why not


def _duration(stricter: str) -> Check:
    def check(mine: Any, theirs: Any, day: float) -> str | None:
        a, b = parse_duration(str(mine), day), parse_duration(str(theirs), day)
        if a.business != b.business:
            kind = "working" if b.business else "wall-clock"
            return f"give it in {kind} time, as the platform's {theirs} is"
        looser = a.seconds > b.seconds if stricter == "shorter" else a.seconds < b.seconds
        return f"{mine} is looser than the platform's {theirs}" if looser else None

    return check


def _amount(stricter: str) -> Check:
    def check(mine: Any, theirs: Any, day: float) -> str | None:
        a, b = _decimal(mine), _decimal(theirs)
        if a is None:
            return f"{mine!r} is not an amount"
        if b is None:  # the platform's has no limit: any limit is stricter, unless higher is stricter
            return None if stricter == "lower" else f"{mine} is looser than the platform's {theirs}"
        looser = a > b if stricter == "lower" else a < b
        return f"{mine} is looser than the platform's {theirs}" if looser else None

    return check


def _decimal(value: Any) -> Decimal | None:
    if value == "unlimited" or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _hours(stricter: str) -> Check:
    def check(mine: Any, theirs: Any, day: float) -> str | None:
        a, b = time.fromisoformat(str(mine)), time.fromisoformat(str(theirs))
        looser = a > b if stricter == "earlier" else a < b
        return f"{mine} gives less working time than the platform's {theirs}" if looser else None

    return check


def _within(mine: Any, theirs: Any, day: float) -> str | None:
    extra = {str(v) for v in mine} - {str(v) for v in theirs}
    return f"{', '.join(sorted(extra))} not in the platform's {theirs}" if extra else None


def _covers(mine: Any, theirs: Any, day: float) -> str | None:
    missing = {str(v) for v in theirs} - {str(v) for v in mine}
    return f"leaves out the platform's {', '.join(sorted(missing))}" if missing else None


def _same(mine: Any, theirs: Any, day: float) -> str | None:
    return None if str(mine) == str(theirs) else f"must stay the platform's {theirs}"


def _free(mine: Any, theirs: Any, day: float) -> str | None:
    return None


def _silent_warehouse(mine: Any, theirs: Any, day: float) -> str | None:
    # "pass" decides for the buyer when the merchant's warehouse is silent: the stricter one.
    return None if mine == "pass" or mine == theirs else f"{mine} is looser than the platform's {theirs}"


# The keys a merchant may set, and which way is stricter. A key matches the first pattern that
# fits it (`*` stands for one part).
RULES: tuple[tuple[str, Check], ...] = (
    ("targets.*.*", _duration("shorter")),
    ("overrides.customer.*.*", _free),  # an override only ever tightens a tier's target
    ("overrides.category.*.*", _free),
    ("approval.threshold", _amount("lower")),
    ("approval.target", _duration("shorter")),
    ("approval.levels.*", _amount("lower")),
    ("approval.always_for_tiers", _covers),
    ("approval.amount_types", _covers),
    ("calendar.work_start", _hours("earlier")),
    ("calendar.work_end", _hours("later")),
    ("calendar.weekend", _within),
    ("calendar.extra_workdays", _free),
    ("calendar.extra_holidays", _within),
    ("calendar.holidays_country", _same),
    ("calendar.timezone", _same),
    ("returns.address", _free),
    ("returns.window", _duration("longer")),
    ("returns.transit_window", _duration("shorter")),
    ("returns.inspection_window", _duration("shorter")),
    ("returns.silent_warehouse", _silent_warehouse),
    ("returns.refund_only_max_amount", _amount("higher")),
    ("repair.response", _duration("shorter")),
    ("repair.visit_lead", _free),
    ("conversation.next_reply.*", _duration("shorter")),
    ("conversation.next_reply_vip", _duration("shorter")),
    ("routing.default_team", _free),
    ("routing.rules", _free),
    ("routing.acceptance_window.*", _duration("shorter")),
    ("platform.answer_within", _duration("shorter")),
    ("platform.delivered_return_within", _duration("shorter")),
    ("platform.no_reason_return_days", _amount("higher")),
    ("platform.three_guarantees_return_days", _amount("higher")),
    ("platform.three_guarantees_exchange_days", _amount("higher")),
    ("platform.repairs_before_replacement", _amount("lower")),
    ("platform.intervention_evidence_within", _duration("shorter")),
    ("platform.intervention_carry_out_within", _duration("shorter")),
)


def _leaves(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{path}.")
        else:
            yield path, value


def parse_overlay(text: str) -> dict[str, Any]:
    """A merchant's policy file (TOML, the platform file's keys), or PolicyError in one line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(f"merchant policy: not valid TOML ({err})") from None


def problems(platform: Policy, overlay: Mapping[str, Any]) -> dict[str, str]:
    """Each key of the overlay that a merchant may not set, or sets looser: key -> why."""
    day = _working_day(platform)
    found: dict[str, str] = {}
    for key, value in _leaves(overlay):
        rule = next((check for pattern, check in RULES if fnmatch.fnmatchcase(key, pattern)), None)
        if rule is None:
            found[key] = "a merchant's policy cannot set it"
            continue
        theirs = _plain(platform.setting(key))
        try:
            why = None if theirs is None and rule is not _same else rule(value, theirs, day)
        except (ValueError, TypeError) as err:
            why = str(err).split("\n")[0] or f"{value!r} is not valid here"
        if why is not None:
            found[key] = why
    return found


def merged(platform: Policy, overlay: Mapping[str, Any]) -> Policy:
    """The merchant's policy: the overlay laid over the platform's; any problem raises, naming
    the first key."""
    found = problems(platform, overlay)
    if found:
        key, why = next(iter(found.items()))
        raise PolicyError(f"{key}: {why}")
    return _laid_over(platform, overlay)


def merged_within_floor(platform: Policy, overlay: Mapping[str, Any]) -> tuple[Policy, dict[str, str]]:
    """The merchant's policy with every refused key left at the platform's value, and what was
    refused. For a stored overlay the platform has since tightened under: cases still open on
    the floor, never below it."""
    found = problems(platform, overlay)
    kept = _without(overlay, set(found))
    return _laid_over(platform, kept), found


def _laid_over(platform: Policy, overlay: Mapping[str, Any]) -> Policy:
    base = platform.model_dump(mode="json")
    try:
        return Policy.model_validate(_deep_merge(base, overlay))
    except ValidationError as err:
        raise PolicyError(f"merchant policy: {describe_problems(err)}") from None


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _without(overlay: Mapping[str, Any], refused: set[str], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in overlay.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            inner = _without(value, refused, f"{path}.")
            if inner:
                out[key] = inner
        elif path not in refused:
            out[key] = value
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, date | time | Decimal):
        return value.isoformat() if isinstance(value, date | time) else str(value)
    return value


def _working_day(policy: Policy) -> float:
    start, end = policy.calendar.work_start, policy.calendar.work_end
    return float((end.hour * 3600 + end.minute * 60) - (start.hour * 3600 + start.minute * 60))
