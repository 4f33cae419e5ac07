"""Duration parsing, the policy file, and the resolved policy snapshot."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cases.clocks.durations import Duration, parse_duration
from cases.models import Category, ClockName, CustomerTier, ResolutionType, Tier
from cases.policy.snapshot import Policy, PolicyError, PolicySnapshot, load_policy

FR = ClockName.FIRST_RESPONSE
IH = ClockName.INITIAL_HANDLING
RES = ClockName.RESOLUTION
CL = ClockName.CLOSURE
WD = 9 * 3600.0
OPENED = datetime(2026, 3, 2, 10, tzinfo=UTC)


def wall(label: str, seconds: float) -> Duration:
    return Duration(seconds=seconds, business=False, label=label)


def labels(targets: dict[ClockName, Duration]) -> dict[ClockName, str]:
    return {clock: d.label for clock, d in targets.items()}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


@pytest.fixture(scope="module")
def snap(policy: Policy) -> PolicySnapshot:
    return policy.snapshot(OPENED)


def default_text() -> str:
    return resources.files("cases").joinpath("default_policy.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


TARGETS: dict[str, Any] = {
    "targets": {
        tier: {"first_response": "24h", "initial_handling": "48h", "resolution": "72h",
               "closure": "7wd"}
        for tier in ("urgent", "complex", "general")
    }
}


# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds", "business"),
    [
        ("15m", 900.0, False),
        ("24h", 86400.0, False),
        ("7d", 604800.0, False),
        ("30s", 30.0, False),
        ("9bh", 32400.0, True),
        ("7wd", 7 * WD, True),
        ("1.5h", 5400.0, False),
        (" 2 wd ", 2 * WD, True),
        ("0.5wd", 0.5 * WD, True),
    ],
)
def test_parse_duration_accepts(text: str, seconds: float, business: bool) -> None:
    d = parse_duration(text, WD)
    assert (d.seconds, d.business, d.label) == (seconds, business, text.strip())


def test_working_day_length_comes_from_the_caller() -> None:
    assert parse_duration("2wd", 8 * 3600).seconds == 16 * 3600
    assert parse_duration("2bh", 8 * 3600).seconds == 2 * 3600


@pytest.mark.parametrize("text", ["", "   ", "0h", "0.0wd", "-1h", "1x", "h", "1.5", "wd", "1H",
                                  "1 hour", "1h30m", "inf h", "1e3h", "99999d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text, WD)
    message = str(info.value)
    assert repr(text) in message
    assert "15m, 24h, 7d, 9bh, 7wd" in message


def test_duration_is_frozen() -> None:
    d = parse_duration("1h", WD)
    with pytest.raises(ValidationError):
        d.seconds = 5  # type: ignore[misc]
    assert str(d) == "1h"


# --- the shipped default -----------------------------------------------------------------------


def test_default_policy_holds_the_design_numbers(policy: Policy, snap: PolicySnapshot) -> None:
    assert policy.warning_fraction == 0.8
    assert policy.complex_amount_threshold == Decimal(5000)
    expected = {
        Tier.URGENT: {FR: "1h", IH: "12h", RES: "24h", CL: "7wd"},
        Tier.COMPLEX: {FR: "24h", IH: "48h", RES: "72h", CL: "7wd"},
        Tier.GENERAL: {FR: "24h", IH: "48h", RES: "72h", CL: "7wd"},
    }
    assert policy.targets == expected
    assert {t: labels(c) for t, c in snap.targets.items()} == expected
    assert snap.targets[Tier.URGENT][FR] == wall("1h", 3600)
    assert snap.targets[Tier.GENERAL][RES] == wall("72h", 72 * 3600)
    assert snap.targets[Tier.COMPLEX][CL] == Duration(seconds=7 * WD, business=True, label="7wd")
    assert labels(snap.customer_overrides[CustomerTier.VIP]) == {FR: "15m"}
    assert labels(snap.category_overrides[Category.LOGISTICS]) == {FR: "4h", RES: "24h"}
    assert snap.warning_fraction == 0.8
    assert snap.approval_threshold == Decimal(500)
    assert snap.approval_target == wall("4h", 4 * 3600)
    assert snap.approval_always_for_tiers == [Tier.URGENT]
    assert snap.approval_amount_types == [
        ResolutionType.REFUND,
        ResolutionType.REFUND_ONLY,
        ResolutionType.RETURN_REFUND,
        ResolutionType.EXCHANGE,
        ResolutionType.COMPENSATION,
    ]
    f = snap.fulfilment
    assert (f.return_window, f.inspection_window, f.silent_warehouse) == (
        wall("7d", 7 * 86400), wall("72h", 72 * 3600), "pass",
    )
    assert f.return_transit == wall("7d", 7 * 86400)
    assert (f.repair_response, f.refund_only_max_amount) == (wall("48h", 48 * 3600), Decimal(50))
    assert [f.next_reply[t].seconds for t in (Tier.URGENT, Tier.COMPLEX, Tier.GENERAL)] == [
        3600, 86400, 86400,
    ]
    assert f.next_reply_vip == wall("15m", 900)
    assert snap.confirmation_window == wall("72h", 72 * 3600)
    assert snap.survey_timeout == wall("7d", 7 * 86400)
    assert snap.follow_up_delay == wall("7d", 7 * 86400)
    assert snap.follow_up_window == wall("3d", 3 * 86400)
    assert snap.follow_up_sample_rate == 0.15
    assert snap.follow_up_always_tiers == [Tier.URGENT, Tier.COMPLEX]
    assert snap.follow_up_always_customers == [CustomerTier.VIP]
    assert snap.low_rating_threshold == 2
    cal = policy.calendar
    assert (cal.timezone, cal.work_start, cal.work_end) == ("Asia/Shanghai", time(9), time(18))
    assert (cal.weekend, cal.holidays_country) == ([5, 6], "CN")


def test_default_escalation(snap: PolicySnapshot) -> None:
    assert snap.start_level(Tier.URGENT) == 2
    assert snap.start_level(Tier.COMPLEX) == 3
    assert snap.start_level(Tier.GENERAL) == 3
    assert [snap.level_name(n) for n in (3, 2, 1)] == [
        "frontline service outlet", "regional service center", "headquarters"]
    assert [snap.supervisor(n) for n in (3, 2, 1)] == [
        "outlet-supervisor", "regional-supervisor", "hq-duty-manager"]
    with pytest.raises(ValueError, match="unknown escalation level 4"):
        snap.supervisor(4)


def test_code_defaults_match_the_shipped_file(policy: Policy) -> None:
    # A file holding only the targets gets the same policy as the shipped default.
    assert Policy.model_validate(
        {"targets": {t.value: {c.value: v for c, v in cs.items()}
                     for t, cs in policy.targets.items()},
         "overrides": policy.overrides.model_dump(mode="json")}
    ) == policy


# --- targets for a case ------------------------------------------------------------------------


def test_targets_for_vip(snap: PolicySnapshot) -> None:
    targets = snap.targets_for(Tier.GENERAL, Category.PRODUCT_QUALITY, CustomerTier.VIP)
    assert labels(targets) == {FR: "15m", IH: "48h", RES: "72h", CL: "7wd"}
    assert targets[FR] == wall("15m", 900)


def test_targets_for_logistics(snap: PolicySnapshot) -> None:
    targets = snap.targets_for(Tier.GENERAL, Category.LOGISTICS, CustomerTier.STANDARD)
    assert labels(targets) == {FR: "4h", IH: "48h", RES: "24h", CL: "7wd"}


def test_overrides_only_tighten(snap: PolicySnapshot) -> None:
    targets = snap.targets_for(Tier.URGENT, Category.LOGISTICS, CustomerTier.STANDARD)
    assert labels(targets) == {FR: "1h", IH: "12h", RES: "24h", CL: "7wd"}
    vip = snap.targets_for(Tier.URGENT, Category.LOGISTICS, CustomerTier.VIP)
    assert labels(vip) == {FR: "15m", IH: "12h", RES: "24h", CL: "7wd"}


def test_targets_for_does_not_mutate_the_snapshot(snap: PolicySnapshot) -> None:
    snap.targets_for(Tier.GENERAL, Category.LOGISTICS, CustomerTier.VIP)
    assert snap.targets[Tier.GENERAL][FR].label == "24h"


def test_override_of_a_different_kind_wins() -> None:
    policy = Policy.model_validate(
        TARGETS | {"overrides": {"category": {"billing": {"first_response": "20bh",
                                                          "resolution": "96h"}}}}
    )
    targets = policy.snapshot(OPENED).targets_for(
        Tier.GENERAL, Category.BILLING, CustomerTier.STANDARD
    )
    assert targets[FR] == Duration(seconds=20 * 3600, business=True, label="20bh")
    assert targets[RES].label == "72h"  # same kind, looser: ignored


# --- approval and follow-up --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "kind", "amount", "expected"),
    [
        (Tier.URGENT, ResolutionType.EXPLANATION, "0", True),
        (Tier.GENERAL, ResolutionType.REFUND, "500", False),
        (Tier.GENERAL, ResolutionType.REFUND, "500.01", True),
        (Tier.COMPLEX, ResolutionType.COMPENSATION, "501", True),
        (Tier.GENERAL, ResolutionType.EXCHANGE, "10000", True),
        (Tier.COMPLEX, ResolutionType.REPAIR, "9999", False),
    ],
)
def test_needs_approval(
    snap: PolicySnapshot, tier: Tier, kind: ResolutionType, amount: str, expected: bool
) -> None:
    assert snap.needs_approval(tier, kind, Decimal(amount)) is expected


def _in_sample(case_id: str, rate: float) -> bool:
    return int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) % 10000 < round(rate * 10000)


def test_follow_up_reason(snap: PolicySnapshot) -> None:
    assert snap.follow_up_reason("c-1", Tier.URGENT, CustomerTier.STANDARD) == "tier"
    assert snap.follow_up_reason("c-1", Tier.COMPLEX, CustomerTier.VIP) == "tier"
    assert snap.follow_up_reason("c-1", Tier.GENERAL, CustomerTier.VIP) == "vip"
    ids = [f"case-{i}" for i in range(200)]
    sampled = [i for i in ids if _in_sample(i, 0.15)]
    skipped = [i for i in ids if not _in_sample(i, 0.15)]
    assert sampled and skipped
    for case_id in sampled:
        assert snap.follow_up_reason(case_id, Tier.GENERAL, CustomerTier.STANDARD) == "sample"
    for case_id in skipped:
        assert snap.follow_up_reason(case_id, Tier.GENERAL, CustomerTier.STANDARD) is None


def test_follow_up_sample_boundary(snap: PolicySnapshot) -> None:
    # Buckets 0..1499 are in a 15 % sample, 1500 is the first one out.
    assert int(hashlib.sha256(b"boundary-6842").hexdigest()[:8], 16) % 10000 == 1499
    assert int(hashlib.sha256(b"boundary-1124").hexdigest()[:8], 16) % 10000 == 1500
    assert snap.follow_up_reason("boundary-6842", Tier.GENERAL, CustomerTier.STANDARD) == "sample"
    assert snap.follow_up_reason("boundary-1124", Tier.GENERAL, CustomerTier.STANDARD) is None


def test_follow_up_sample_is_deterministic_and_near_the_rate(snap: PolicySnapshot) -> None:
    reasons = [
        snap.follow_up_reason(f"ORD-{i:06d}", Tier.GENERAL, CustomerTier.STANDARD)
        for i in range(10_000)
    ]
    again = [
        snap.follow_up_reason(f"ORD-{i:06d}", Tier.GENERAL, CustomerTier.STANDARD)
        for i in range(10_000)
    ]
    assert reasons == again
    share = reasons.count("sample") / 10_000
    assert 0.14 <= share <= 0.16
    assert set(reasons) == {"sample", None}


def test_follow_up_sample_rate_bounds() -> None:
    none = Policy.model_validate(TARGETS | {"follow_up_sample_rate": 0}).snapshot(OPENED)
    every = Policy.model_validate(TARGETS | {"follow_up_sample_rate": 1}).snapshot(OPENED)
    for i in range(500):
        assert none.follow_up_reason(str(i), Tier.GENERAL, CustomerTier.STANDARD) is None
        assert every.follow_up_reason(str(i), Tier.GENERAL, CustomerTier.STANDARD) == "sample"


# --- the snapshot ------------------------------------------------------------------------------


def test_snapshot_round_trips_through_json(snap: PolicySnapshot) -> None:
    data = json.loads(json.dumps(snap.model_dump(mode="json")))
    again = PolicySnapshot.model_validate(data)
    assert again == snap
    assert again.model_dump(mode="json") == data
    assert again.escalation.levels[1] == "headquarters"
    assert again.targets_for(Tier.GENERAL, Category.LOGISTICS, CustomerTier.VIP) == (
        snap.targets_for(Tier.GENERAL, Category.LOGISTICS, CustomerTier.VIP)
    )


def test_snapshot_resolves_the_calendar_around_the_open_date(snap: PolicySnapshot) -> None:
    assert snap.calendar.years == [2025, 2026, 2027, 2028]
    assert date(2026, 2, 14) in snap.calendar.workdays
    assert not snap.calendar.is_working_day(date(2026, 2, 17))


def test_snapshot_year_is_taken_in_the_calendar_zone(policy: Policy) -> None:
    # 2026-12-31 17:00 UTC is already 2027-01-01 in Shanghai.
    late = policy.snapshot(datetime(2026, 12, 31, 17, tzinfo=UTC))
    assert late.calendar.years == [2026, 2027, 2028, 2029]


def test_snapshot_working_day_follows_the_calendar() -> None:
    policy = Policy.model_validate(
        TARGETS | {"calendar": {"work_start": "08:00", "work_end": "20:00"}}
    )
    assert policy.snapshot(OPENED).targets[Tier.GENERAL][CL].seconds == 7 * 12 * 3600


def test_snapshot_needs_an_aware_datetime(policy: Policy) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        policy.snapshot(datetime(2026, 3, 2, 10))


# --- bad policy files --------------------------------------------------------------------------


def test_bad_duration_names_file_and_field(tmp_path: Path) -> None:
    text = default_text()
    assert 'first_response = "1h"' in text
    path = write(tmp_path, text.replace('first_response = "1h"', 'first_response = "1x"', 1))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert message == (
        f"policy {path}: targets.urgent.first_response: bad duration '1x': expected "
        "<number><unit> with unit s, m, h, d, bh or wd (use e.g. 15m, 24h, 7d, 9bh, 7wd)"
    )
    assert "\n" not in message


def test_unknown_key_fails(tmp_path: Path) -> None:
    path = write(tmp_path, "warning_fractoin = 0.8\n" + default_text())
    with pytest.raises(PolicyError, match=r"warning_fractoin: unknown key"):
        load_policy(path)


def test_unknown_nested_key_fails(tmp_path: Path) -> None:
    path = write(tmp_path, default_text().replace("threshold = 500", "treshold = 500"))
    with pytest.raises(PolicyError, match=r"approval\.treshold: unknown key"):
        load_policy(path)


def test_unknown_tier_key_fails(tmp_path: Path) -> None:
    path = write(tmp_path, default_text().replace("[targets.general]", "[targets.generall]"))
    with pytest.raises(PolicyError, match=r"targets\.generall: not a valid key"):
        load_policy(path)


def test_missing_file_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == f"policy {path}: file not found"


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "warning_fraction = = 0.8\n")
    with pytest.raises(PolicyError, match=rf"policy {path}: TOML syntax error: .*line 1"):
        load_policy(path)


def test_custom_file_is_used(tmp_path: Path) -> None:
    path = write(tmp_path, default_text().replace('first_response = "15m"',
                                                  'first_response = "10m"'))
    snap = load_policy(path).snapshot(OPENED)
    assert snap.customer_overrides[CustomerTier.VIP][FR] == wall("10m", 600)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"warning_fraction": 1.0}, "warning_fraction: Input should be less than 1"),
        ({"follow_up_sample_rate": 1.5}, "follow_up_sample_rate"),
        ({"survey_timeout": "soon"}, "survey_timeout: bad duration 'soon'"),
        ({"approval": {"target": "0h"}}, "approval.target: bad duration '0h'"),
        ({"approval": {"amount_types": ["cash"]}}, "approval.amount_types.0"),
        ({"targets": {"urgent": {"first_response": "1h"}}}, "targets: missing tier"),
        (
            {"targets": TARGETS["targets"] | {"urgent": {"first_response": "1h",
                                                         "initial_handling": "12h",
                                                         "resolution": "24h"}}},
            "urgent: missing clock(s) closure",
        ),
        (
            {"targets": TARGETS["targets"] | {"urgent": TARGETS["targets"]["urgent"]
                                              | {"approval": "4h"}}},
            "approval is not a tier target",
        ),
        ({"overrides": {"customer": {"vip": {"approval": "1h"}}}}, "overrides.customer"),
        ({"overrides": {"category": {"logistics": {"first_response": "4x"}}}},
         "overrides.category.logistics.first_response: bad duration '4x'"),
        ({"escalation": {"start_level": {"urgent": 4, "complex": 3, "general": 3}}},
         "escalation: start_level"),
        ({"escalation": {"supervisors": {"3": "a", "2": "b"}}}, "escalation: supervisors"),
        ({"escalation": {"levels": {"3": "x", "2": "y"}, "supervisors": {"3": "a", "2": "b"}}},
         "numbered 1..N"),
        ({"calendar": {"timezone": "Asia/Shanghia"}}, "calendar.timezone: unknown time zone"),
        ({"calendar": {"work_start": "18:00", "work_end": "09:00"}}, "calendar: work_start"),
        ({"low_rating_threshold": 6}, "low_rating_threshold"),
    ],
)
def test_invalid_policy_content(tmp_path: Path, change: dict[str, Any], needle: str) -> None:
    import tomllib

    data = tomllib.loads(default_text())
    data.update(change)
    lines = _to_toml(data)
    path = write(tmp_path, lines)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert message.startswith(f"policy {path}: ")
    assert needle in message
    assert "\n" not in message


def _to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A minimal TOML writer for the test cases: tables, strings, numbers, lists."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, time):
            return v.isoformat()
        if isinstance(v, dict):  # an element of an array of tables, as an inline table
            return "{" + ", ".join(f"{json.dumps(str(k))} = {value(x)}" for k, x in v.items()) + "}"
        return str(v)

    plain = [f"{json.dumps(str(k))} = {value(v)}" for k, v in data.items()
             if not isinstance(v, dict)]
    tables = [
        _to_toml(v, f"{prefix}{json.dumps(str(k))}.") for k, v in data.items()
        if isinstance(v, dict)
    ]
    header = f"[{prefix.rstrip('.')}]\n" if prefix else ""
    return header + "\n".join(plain) + "\n" + "".join(tables)


def test_equal_snapshots_are_shared_and_different_ones_are_not() -> None:
    from cases.policy.snapshot import shared_snapshot

    policy = load_policy(None)
    at = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    first = shared_snapshot(policy.snapshot(at))
    again = shared_snapshot(PolicySnapshot.model_validate_json(policy.snapshot(at).model_dump_json()))
    assert again is first
    other = shared_snapshot(policy.snapshot(at.replace(year=2029)))
    assert other is not first and other.calendar.years != first.calendar.years
