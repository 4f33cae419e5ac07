"""What the law gives a buyer's request: the no-reason return and the three guarantees (三包).

Pure: the request, the order facts, the item's earlier repairs, the instant and the platform's
calendar in, an `Eligibility` out, with one verdict per rule naming why it gives or withholds
(STANDARDS S15.1-S15.3). Days are calendar days in the calendar's time zone. The day the parcel
was signed for is not counted: day 1 is the next day, and a window of N days ends at the end of
day N, whatever day of the week it is: the calendar's working days, which a merchant's policy
may change, never move the law's window (STANDARDS S15.1).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from cases.clocks.calendar import BusinessCalendar
from cases.platform.models import (
    BuyerRequest,
    Eligibility,
    GoodsClass,
    OrderFacts,
    Remedy,
    RequestReason,
    Verdict,
)
from cases.platform.policy import PlatformSnapshot

NO_REASON_RETURN = "no_reason_return"
THREE_GUARANTEES_RETURN = "three_guarantees_return_window"
THREE_GUARANTEES_EXCHANGE = "three_guarantees_exchange_window"
THREE_GUARANTEES_REPAIR = "three_guarantees_warranty"
THREE_GUARANTEES_AFTER_REPAIRS = "three_guarantees_after_repairs"

# Where each rule comes from, for the refusal and the case view (STANDARDS S15).
SOURCES = {
    NO_REASON_RETURN: "Consumer Rights Protection Law art. 25 (STANDARDS S15.1)",
    THREE_GUARANTEES_RETURN: "三包 rules art. 9 (STANDARDS S15.2)",
    THREE_GUARANTEES_EXCHANGE: "三包 rules art. 10 (STANDARDS S15.2)",
    THREE_GUARANTEES_REPAIR: "三包 rules art. 8 (STANDARDS S15.2)",
    THREE_GUARANTEES_AFTER_REPAIRS: "三包 rules art. 11 (STANDARDS S15.3)",
}

# How each rule reads to the buyer.
TITLES = {
    NO_REASON_RETURN: ("7-day no-reason return", "七日无理由退货"),
    THREE_GUARANTEES_RETURN: ("three guarantees: return, exchange or repair", "三包：退货、换货或修理"),
    THREE_GUARANTEES_EXCHANGE: ("three guarantees: exchange or repair", "三包：换货或修理"),
    THREE_GUARANTEES_REPAIR: ("three guarantees: repair under warranty", "三包：保修期内修理"),
    THREE_GUARANTEES_AFTER_REPAIRS: (
        "three guarantees: exchange or return after two repairs", "三包：两次修理后换货或退货"
    ),
}

EXCLUDED_CLASSES = {
    GoodsClass.MADE_TO_ORDER: "goods made to order",
    GoodsClass.PERISHABLE: "perishable goods",
    GoodsClass.UNSEALED_DIGITAL: "downloaded or unsealed audio-visual or digital goods",
    GoodsClass.PERIODICAL: "delivered newspapers and periodicals",
}

ALL_THREE = [Remedy.RETURN_REFUND, Remedy.EXCHANGE, Remedy.REPAIR]


def window_end(signed_at: datetime, days: int, calendar: BusinessCalendar) -> datetime:
    """The instant a window of `days` days from the day after signing ends."""
    zone = calendar.zone
    last = signed_at.astimezone(zone).date() + timedelta(days=days)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)


def assess(
    request: BuyerRequest,
    facts: OrderFacts | None,
    prior_repairs: int,
    at: datetime,
    calendar: BusinessCalendar,
    rules: PlatformSnapshot,
) -> Eligibility:
    verdicts = [_no_reason(facts, at, calendar, rules)]
    verdicts += _three_guarantees(request, facts, prior_repairs, at, calendar, rules)
    entitled = [r for r in Remedy if any(r in v.gives for v in verdicts)]
    rule = next((v.rule for v in verdicts if request.remedy in v.gives), None)
    return Eligibility(rule=rule, entitled=entitled, verdicts=verdicts)


def _no_reason(
    facts: OrderFacts | None, at: datetime, calendar: BusinessCalendar, rules: PlatformSnapshot
) -> Verdict:
    def no(why: str) -> Verdict:
        return Verdict(rule=NO_REASON_RETURN, why=why)

    if facts is None or facts.signed_at is None or facts.signed_at > at:
        return no("the parcel has not been signed for")
    excluded = EXCLUDED_CLASSES.get(facts.goods_class)
    if excluded is not None:
        return no(f"{excluded} are excluded from no-reason returns")
    if facts.excluded_at_purchase:
        return no("the buyer confirmed at purchase that these goods are not returned without a reason")
    days = rules.no_reason_return_days
    ends = window_end(facts.signed_at, days, calendar)
    if at >= ends:
        why = f"the {days} days from the day after signing ended {_local(ends, calendar)}"
        return Verdict(rule=NO_REASON_RETURN, why=why, until=ends)
    return Verdict(
        rule=NO_REASON_RETURN, gives=[Remedy.RETURN_REFUND], until=ends,
        why=f"within {days} days of the day after signing, until {_local(ends, calendar)}",
    )


def _three_guarantees(
    request: BuyerRequest,
    facts: OrderFacts | None,
    prior_repairs: int,
    at: datetime,
    calendar: BusinessCalendar,
    rules: PlatformSnapshot,
) -> list[Verdict]:
    if facts is None or not facts.three_guarantees:
        return [Verdict(rule=THREE_GUARANTEES_REPAIR, why="the product is not in the three-guarantees catalogue")]
    if request.reason != RequestReason.QUALITY_FAULT:
        return [Verdict(rule=THREE_GUARANTEES_REPAIR, why="the three guarantees answer a performance fault only")]
    if facts.signed_at is None or facts.signed_at > at:
        return [Verdict(rule=THREE_GUARANTEES_REPAIR, why="the parcel has not been signed for")]
    found = []
    for rule, days, gives in (
        (THREE_GUARANTEES_RETURN, rules.three_guarantees_return_days, ALL_THREE),
        (THREE_GUARANTEES_EXCHANGE, rules.three_guarantees_exchange_days, [Remedy.EXCHANGE, Remedy.REPAIR]),
    ):
        ends = window_end(facts.signed_at, days, calendar)
        if at < ends:
            found.append(Verdict(rule=rule, gives=gives, until=ends, why=f"a fault within {days} days"))
        else:
            found.append(Verdict(rule=rule, why=f"the {days} days ended {_local(ends, calendar)}", until=ends))
    found += _warranty(facts, prior_repairs, at, calendar, rules)
    return found


def _warranty(
    facts: OrderFacts, prior_repairs: int, at: datetime, calendar: BusinessCalendar, rules: PlatformSnapshot
) -> list[Verdict]:
    ends = facts.warranty_ends
    today = at.astimezone(calendar.zone).date()
    if ends is None or today > ends:
        why = "no warranty end given" if ends is None else f"the warranty ended {ends.isoformat()}"
        return [Verdict(rule=THREE_GUARANTEES_REPAIR, why=why),
                Verdict(rule=THREE_GUARANTEES_AFTER_REPAIRS, why=why)]
    until = _end_of(ends, calendar)
    repair = Verdict(rule=THREE_GUARANTEES_REPAIR, gives=[Remedy.REPAIR], until=until,
                     why=f"within the warranty, until {ends.isoformat()}")
    needed = rules.repairs_before_replacement
    if prior_repairs >= needed:
        after = Verdict(
            rule=THREE_GUARANTEES_AFTER_REPAIRS, gives=[Remedy.EXCHANGE, Remedy.RETURN_REFUND], until=until,
            why=f"repaired {prior_repairs} times before and still faulty",
        )
    else:
        after = Verdict(rule=THREE_GUARANTEES_AFTER_REPAIRS,
                        why=f"repaired {prior_repairs} of {needed} times before")
    return [repair, after]


def _end_of(day: date, calendar: BusinessCalendar) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=calendar.zone)


def _local(at: datetime, calendar: BusinessCalendar) -> str:
    return at.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M")
