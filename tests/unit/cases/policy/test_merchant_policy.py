"""A merchant's policy over the platform's: stricter is taken, looser is refused naming the key."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from cases.models import ClockName, Tier
from cases.policy.merchant import merged, merged_within_floor, parse_overlay, problems
from cases.policy.snapshot import PolicyError, load_policy

PLATFORM = load_policy(None)


def test_a_stricter_policy_is_laid_over_the_platforms() -> None:
    overlay = parse_overlay(
        """
        [targets.general]
        first_response = "2h"
        [returns]
        address = "Acme Returns, 8 Quay Road, Ningbo"
        window = "15d"
        [approval]
        threshold = 200
        [calendar]
        extra_workdays = [2026-12-12]
        work_end = 20:00:00
        """
    )
    policy = merged(PLATFORM, overlay)
    assert policy.targets[Tier.GENERAL][ClockName.FIRST_RESPONSE] == "2h"
    assert policy.targets[Tier.GENERAL][ClockName.RESOLUTION] == PLATFORM.targets[Tier.GENERAL][ClockName.RESOLUTION]
    assert policy.returns.address.startswith("Acme Returns")
    assert policy.approval.threshold == Decimal("200")
    snapshot = policy.snapshot(datetime(2026, 12, 7, 2, tzinfo=UTC))
    assert snapshot.calendar.is_working_day(date(2026, 12, 12))
    assert not PLATFORM.snapshot(datetime(2026, 12, 7, 2, tzinfo=UTC)).calendar.is_working_day(date(2026, 12, 12))


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[targets.general]\nfirst_response = "48h"', "targets.general.first_response"),
        ('[targets.urgent]\nclosure = "8wd"', "targets.urgent.closure"),
        ('[targets.urgent]\nclosure = "5d"', "targets.urgent.closure"),  # wall-clock for a working-day target
        ('[returns]\nwindow = "3d"', "returns.window"),
        ('[returns]\ninspection_window = "5d"', "returns.inspection_window"),
        ("[approval]\nthreshold = 5000", "approval.threshold"),
        ('[approval.levels]\nreviewer = "unlimited"', "approval.levels.reviewer"),
        ("[calendar]\nextra_holidays = [2026-12-14]", "calendar.extra_holidays"),
        ("[calendar]\nwork_start = 10:00:00", "calendar.work_start"),
        ("[calendar]\nweekend = [4, 5, 6]", "calendar.weekend"),
        ('[calendar]\nholidays_country = "US"', "calendar.holidays_country"),
        ('[escalation.supervisors]\n1 = "my-boss"', "escalation.supervisors.1"),
        ("follow_up_sample_rate = 0.0", "follow_up_sample_rate"),
        ('[routing.acceptance_window]\ngeneral = "1d"', "routing.acceptance_window.general"),
    ],
)
def test_a_looser_value_or_a_key_a_merchant_may_not_set_is_refused_naming_it(toml: str, key: str) -> None:
    with pytest.raises(PolicyError, match="^" + re.escape(key) + ": "):
        merged(PLATFORM, parse_overlay(toml))


def test_bad_toml_is_one_line() -> None:
    with pytest.raises(PolicyError, match="^merchant policy: not valid TOML"):
        parse_overlay("[targets\n")


def test_a_stored_policy_the_platform_tightened_under_opens_on_the_floor() -> None:
    overlay: dict[str, Any] = parse_overlay(
        '[targets.general]\nfirst_response = "20h"\nresolution = "48h"\n[returns]\naddress = "Kept Road 1"'
    )
    tighter = PLATFORM.model_copy(
        update={"targets": PLATFORM.targets | {Tier.GENERAL: PLATFORM.targets[Tier.GENERAL] | {
            ClockName.FIRST_RESPONSE: "12h"}}}
    )
    assert set(problems(tighter, overlay)) == {"targets.general.first_response"}
    policy, refused = merged_within_floor(tighter, overlay)
    assert list(refused) == ["targets.general.first_response"]
    assert policy.targets[Tier.GENERAL][ClockName.FIRST_RESPONSE] == "12h"
    assert policy.targets[Tier.GENERAL][ClockName.RESOLUTION] == "48h"
    assert policy.returns.address == "Kept Road 1"
