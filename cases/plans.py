"""A merchant's plan, and the share of a saturated worker pool it buys (STANDARDS S14.5).

Every case's tasks carry its merchant as Temporal's fairness key, so one merchant's backlog (a
recall of thousands opened in a minute) is served in turn with every other merchant's cases
instead of ahead of them. The plan weights that turn: a merchant on `premium` is dispatched twice
as often as one on `standard` while both have work waiting. `standard` weighs 1.0, the server's
own default, so a case started without its merchant's weight at hand gets the standard share.
"""

from __future__ import annotations

from enum import StrEnum


class Plan(StrEnum):
    BASIC = "basic"
    STANDARD = "standard"
    PREMIUM = "premium"


DEFAULT_PLAN = Plan.STANDARD

FAIRNESS_WEIGHT: dict[Plan, float] = {Plan.BASIC: 0.5, Plan.STANDARD: 1.0, Plan.PREMIUM: 2.0}


def fairness_weight(plan: Plan | str) -> float:
    return FAIRNESS_WEIGHT[Plan(plan)]
