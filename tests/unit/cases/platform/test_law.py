"""The law, as a table: what each request is entitled to, at the instants either side of each
boundary, in the platform calendar's time zone (Asia/Shanghai)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cases.platform import law
from cases.platform.models import BuyerRequest, GoodsClass, OrderFacts, Remedy, RequestReason
from cases.policy.snapshot import Policy, PolicySnapshot
from tests.support.machine import SHANGHAI, shanghai

SECOND = timedelta(seconds=1)
# Signed for on Monday 2 March 2026 at 23:30 in Shanghai (15:30 UTC): day 1 is Tuesday 3 March,
# day 7 is Monday 9 March, day 15 is Tuesday 17 March.
SIGNED = shanghai(2026, 3, 2, 23, 30)
DAY_7_ENDS = shanghai(2026, 3, 10)
DAY_15_ENDS = shanghai(2026, 3, 18)


@pytest.fixture(scope="module")
def snap(policy: Policy) -> PolicySnapshot:
    return policy.snapshot(SIGNED)


def assess(
    snap: PolicySnapshot,
    remedy: Remedy,
    at: datetime,
    reason: RequestReason = RequestReason.NO_REASON,
    repairs: int = 0,
    **facts: object,
) -> law.Eligibility:
    order = OrderFacts.model_validate({"signed_at": SIGNED} | facts)
    request = BuyerRequest(remedy=remedy, reason=reason, order=order)
    assert snap.platform is not None
    return law.assess(request, order, repairs, at, snap.calendar, snap.platform)


@pytest.mark.parametrize("goods", [g for g in GoodsClass if g != GoodsClass.ORDINARY])
def test_each_excluded_class_is_refused_a_no_reason_return(snap: PolicySnapshot, goods: GoodsClass) -> None:
    found = assess(snap, Remedy.RETURN_REFUND, SIGNED + timedelta(days=1), goods_class=goods)
    assert found.rule is None
    assert found.entitled == []
    assert "excluded" in found.verdicts[0].why
    ordinary = assess(snap, Remedy.RETURN_REFUND, SIGNED + timedelta(days=1))
    assert ordinary.rule == law.NO_REASON_RETURN


def test_goods_the_buyer_confirmed_as_excluded_at_purchase_are_refused(snap: PolicySnapshot) -> None:
    found = assess(snap, Remedy.RETURN_REFUND, SIGNED + timedelta(days=1), excluded_at_purchase=True)
    assert found.rule is None
    assert "confirmed at purchase" in found.verdicts[0].why


@pytest.mark.parametrize(
    ("at", "entitled"),
    [
        (DAY_7_ENDS - SECOND, True),  # 23:59:59 on day 7
        (DAY_7_ENDS, False),
        # Day 7 ends at midnight in Shanghai, which is 16:00 UTC the day before: a UTC date would be
        # one day off in either direction.
        (datetime(2026, 3, 9, 15, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 3, 9, 16, 0, tzinfo=UTC), False),
    ],
)
def test_the_no_reason_window_runs_from_the_day_after_signing_in_shanghai(
    snap: PolicySnapshot, at: datetime, entitled: bool
) -> None:
    found = assess(snap, Remedy.RETURN_REFUND, at)
    assert (found.rule == law.NO_REASON_RETURN) is entitled
    assert found.verdicts[0].until == DAY_7_ENDS


def test_signing_just_after_midnight_counts_from_the_next_day_too(snap: PolicySnapshot) -> None:
    # 00:10 on 3 March in Shanghai is still 2 March in UTC: the window is counted from 4 March.
    early = shanghai(2026, 3, 3, 0, 10)
    assert law.window_end(early, 7, snap.calendar) == shanghai(2026, 3, 11)


def test_a_window_ends_at_the_end_of_day_7_whatever_day_that_is(snap: PolicySnapshot) -> None:
    # Signed 25 September 2026: day 7 is 2 October, inside the National Day holiday. The window
    # still ends with that day: the calendar's days of rest, which a merchant may change, never
    # move the law's window.
    signed = shanghai(2026, 9, 25, 12)
    assert date(2026, 10, 2) in snap.calendar.holidays
    assert law.window_end(signed, 7, snap.calendar) == shanghai(2026, 10, 3)
    # Signed Sunday 1 March: day 7 is Sunday 8 March.
    assert law.window_end(shanghai(2026, 3, 1, 12), 7, snap.calendar) == shanghai(2026, 3, 9)


def test_a_signing_after_the_request_is_no_signing(snap: PolicySnapshot) -> None:
    found = assess(snap, Remedy.RETURN_REFUND, SIGNED - timedelta(hours=1))
    assert found.rule is None and "not been signed" in found.verdicts[0].why


def test_no_reason_return_gives_a_return_not_an_exchange(snap: PolicySnapshot) -> None:
    found = assess(snap, Remedy.EXCHANGE, SIGNED + timedelta(days=1))
    assert found.rule is None
    assert found.entitled == [Remedy.RETURN_REFUND]


FAULT = RequestReason.QUALITY_FAULT
TG = {"three_guarantees": True, "warranty_ends": date(2027, 3, 2)}


@pytest.mark.parametrize(
    ("remedy", "at", "rule"),
    [
        (Remedy.RETURN_REFUND, DAY_7_ENDS - SECOND, law.NO_REASON_RETURN),
        (Remedy.EXCHANGE, DAY_7_ENDS - SECOND, law.THREE_GUARANTEES_RETURN),
        (Remedy.EXCHANGE, DAY_7_ENDS, law.THREE_GUARANTEES_EXCHANGE),
        (Remedy.EXCHANGE, DAY_15_ENDS - SECOND, law.THREE_GUARANTEES_EXCHANGE),
        (Remedy.EXCHANGE, DAY_15_ENDS, None),
        (Remedy.REPAIR, DAY_15_ENDS, law.THREE_GUARANTEES_REPAIR),
    ],
)
def test_the_three_guarantees_7_and_15_day_boundaries(
    snap: PolicySnapshot, remedy: Remedy, at: datetime, rule: str | None
) -> None:
    assert assess(snap, remedy, at, FAULT, **TG).rule == rule


def test_a_return_for_a_fault_after_7_days_is_not_the_three_guarantees(snap: PolicySnapshot) -> None:
    found = assess(snap, Remedy.RETURN_REFUND, DAY_7_ENDS, FAULT, **TG)
    assert found.rule is None
    assert found.entitled == [Remedy.EXCHANGE, Remedy.REPAIR]


def test_the_three_guarantees_need_the_catalogue_and_a_fault(snap: PolicySnapshot) -> None:
    assert assess(snap, Remedy.EXCHANGE, SIGNED + timedelta(days=2), FAULT).rule is None
    assert assess(snap, Remedy.EXCHANGE, SIGNED + timedelta(days=2), RequestReason.NOT_AS_DESCRIBED, **TG).rule is None


def test_after_the_warranty_nothing_is_owed(snap: PolicySnapshot) -> None:
    after = datetime(2027, 3, 3, tzinfo=SHANGHAI)
    assert assess(snap, Remedy.REPAIR, after - SECOND, FAULT, **TG).rule == law.THREE_GUARANTEES_REPAIR
    assert assess(snap, Remedy.REPAIR, after, FAULT, **TG).rule is None


@pytest.mark.parametrize(("repairs", "offered"), [(1, False), (2, True), (3, True)])
def test_the_third_claim_on_an_item_repaired_twice_is_offered_exchange_or_return(
    snap: PolicySnapshot, repairs: int, offered: bool
) -> None:
    later = DAY_15_ENDS + timedelta(days=60)
    for remedy in (Remedy.EXCHANGE, Remedy.RETURN_REFUND):
        found = assess(snap, remedy, later, FAULT, repairs, sku="SKU-1", serial="SN-1", **TG)
        assert (found.rule == law.THREE_GUARANTEES_AFTER_REPAIRS) is offered
    repair = assess(snap, Remedy.REPAIR, later, FAULT, repairs, **TG)
    assert repair.rule == law.THREE_GUARANTEES_REPAIR


def test_an_unsigned_parcel_has_no_window(snap: PolicySnapshot) -> None:
    request = BuyerRequest(remedy=Remedy.RETURN_REFUND, reason=RequestReason.NO_REASON)
    assert snap.platform is not None
    found = law.assess(request, None, 0, SIGNED, snap.calendar, snap.platform)
    assert found.rule is None
    assert "not been signed" in found.verdicts[0].why
