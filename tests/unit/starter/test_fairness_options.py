"""Every case starts with its merchant as fairness key, weighted by the merchant's plan, and keeps
its priority key (STANDARDS S12.4, S14.5); batch starts are paced per merchant."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.common import Priority

from cases.plans import FAIRNESS_WEIGHT, Plan, fairness_weight
from starter.api import pacing
from starter.api.pacing import MerchantPaces
from starter.start_input import start_options, task_priority
from tests.support.factories import intake


def test_a_case_carries_its_merchant_as_fairness_key_with_its_priority() -> None:
    options = start_options(intake(merchant_id="acme"), "q", priority=1, weight=2.0)
    assert options["priority"] == Priority(priority_key=1, fairness_key="acme", fairness_weight=2.0)
    default = start_options(intake(), "q")
    assert default["priority"] == Priority(fairness_key="default")


def test_without_fairness_only_the_priority_key_goes() -> None:
    assert task_priority("acme", 2, 2.0, fair=False) == Priority(priority_key=2)
    assert task_priority("acme", None, None, fair=False) == Priority.default


def test_plans_weigh_in_order_and_standard_is_the_servers_default() -> None:
    assert fairness_weight("standard") == 1.0  # what a start without a weight gets
    assert FAIRNESS_WEIGHT[Plan.BASIC] < FAIRNESS_WEIGHT[Plan.STANDARD] < FAIRNESS_WEIGHT[Plan.PREMIUM]
    with pytest.raises(ValueError):
        fairness_weight("gold")


async def test_batch_starts_are_paced_per_merchant(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[tuple[str, float]] = []
    current = ""

    async def no_sleep(seconds: float) -> None:
        slept.append((current, seconds))

    monkeypatch.setattr(pacing.asyncio, "sleep", no_sleep)
    paces = MerchantPaces(rate=10.0)
    for current in ("acme", "acme", "acme", "zen", "zen"):
        await paces.of(current).wait()
    acme = [s for m, s in slept if m == "acme"]
    zen = [s for m, s in slept if m == "zen"]
    # Each merchant's starts are 0.1 s apart from its own first; the second merchant is not
    # queued behind the first one's.
    assert acme[0] == pytest.approx(0.0, abs=0.01)
    assert acme[2] == pytest.approx(0.2, abs=0.02)
    assert zen[0] == pytest.approx(0.0, abs=0.01)
    assert zen[1] == pytest.approx(0.1, abs=0.02)
    assert paces.of("acme") is paces.of("acme") and len(paces) == 2


async def test_an_idle_merchants_pace_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    paces = MerchantPaces(rate=10.0)
    await paces.of("acme").wait()
    later = asyncio.get_running_loop().time() + 3600
    monkeypatch.setattr(asyncio.get_running_loop(), "time", lambda: later)
    paces.of("zen")
    assert len(paces) == 1
