"""Tiering of a new case from its intake, and routing of major complaints."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cases.intake.classification import classify
from cases.models import CaseIntake, Category, Tier
from cases.policy.snapshot import load_policy
from cases.routing.placement import team_for
from tests.support import factories

THRESHOLD = Decimal("5000")


def intake(**changes: Any) -> CaseIntake:
    return factories.intake(**({"category": "product_quality", "order_amount": "199.00"} | changes))


def test_plain_case_is_general() -> None:
    assert classify(intake(), THRESHOLD) is Tier.GENERAL
    assert classify(intake(category="logistics"), THRESHOLD) is Tier.GENERAL


@pytest.mark.parametrize(
    "changes",
    [
        {"category": "safety"},
        {"flags": {"safety_risk": True}},
        {"flags": {"outage": True}},
        # Urgent wins over every complex rule.
        {"flags": {"outage": True, "cross_department": True, "major_complaint": True},
         "order_amount": "99999"},
    ],
)
def test_urgent(changes: dict[str, Any]) -> None:
    assert classify(intake(**changes), THRESHOLD) is Tier.URGENT


@pytest.mark.parametrize(
    "changes",
    [
        {"flags": {"cross_department": True}},
        {"flags": {"major_complaint": True}},
        {"order_amount": "5000.00"},
        {"order_amount": "12000"},
    ],
)
def test_complex(changes: dict[str, Any]) -> None:
    assert classify(intake(**changes), THRESHOLD) is Tier.COMPLEX


def test_amount_just_below_threshold_is_general() -> None:
    assert classify(intake(order_amount="4999.99"), THRESHOLD) is Tier.GENERAL


def test_threshold_comes_from_the_caller() -> None:
    assert classify(intake(order_amount="300"), Decimal("300")) is Tier.COMPLEX
    assert classify(intake(order_amount="300"), Decimal("300.01")) is Tier.GENERAL


def test_every_category_without_flags() -> None:
    for category in Category:
        expected = Tier.URGENT if category is Category.SAFETY else Tier.GENERAL
        assert classify(intake(category=category.value), THRESHOLD) is expected


def test_the_shipped_rules_send_a_major_complaint_to_its_team() -> None:
    policy = load_policy(None).snapshot(datetime(2026, 3, 2, tzinfo=UTC))
    major = intake(flags={"major_complaint": True})
    assert team_for(policy, major, classify(major, THRESHOLD)) == "major_complaints"
    plain = intake()
    assert team_for(policy, plain, classify(plain, THRESHOLD)) == policy.intake.default_team
