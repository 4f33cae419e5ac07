"""The checks some actions make beyond the status: escalate stops at level 1, reclassify needs
something to change, and a money-moving proposal may not exceed the order amount (S10.1).
A refused action leaves the state and every queue as they were.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cases.core.machine import InvalidAction
from cases.models import Escalate, ProposeResolution, Reclassify, ResolutionType, Status, Tier
from tests.support.machine import MINUTE, T0, frozen, general, open_case


def test_escalate_at_level_one_is_refused(policy) -> None:
    m = open_case(policy, category="safety")  # urgent: starts at level 2
    assert m.state.escalation_level == 2
    m.apply("escalate", Escalate(reason="press"), T0 + MINUTE)
    assert (m.state.escalation_level, m.state.escalations) == (1, 1)
    before = frozen(m)
    with pytest.raises(InvalidAction, match="escalate: the case is already at level 1"):
        m.check("escalate", Escalate(reason="again"))
    with pytest.raises(InvalidAction, match="escalate: the case is already at level 1"):
        m.apply("escalate", Escalate(reason="again"), T0 + 2 * MINUTE)
    assert frozen(m) == before


@pytest.mark.parametrize("data", [Reclassify(), Reclassify(reason="just because")])
def test_reclassify_with_nothing_to_change_is_refused(policy, data: Reclassify) -> None:
    m = general(policy)
    before = frozen(m)
    with pytest.raises(InvalidAction, match="reclassify needs at least one of tier, category, flags"):
        m.apply("reclassify", data, T0 + MINUTE)
    assert frozen(m) == before


@pytest.mark.parametrize(
    ("kind", "next_status"),
    [
        (ResolutionType.REFUND, Status.RESOLVING),
        (ResolutionType.RETURN_REFUND, Status.AWAITING_RETURN),
        (ResolutionType.EXCHANGE, Status.AWAITING_RETURN),
        (ResolutionType.COMPENSATION, Status.RESOLVING),
    ],
)
def test_money_moving_proposal_above_the_order_amount_is_refused(policy, kind, next_status) -> None:
    m = general(policy, order_amount="299.00")
    before = frozen(m)
    data = ProposeResolution(type=kind, amount=Decimal("299.01"))
    with pytest.raises(
        InvalidAction, match=r"propose_resolution.amount 299.01 exceeds the order amount 299.00"
    ):
        m.apply("propose_resolution", data, T0 + MINUTE)
    assert frozen(m) == before
    # The whole order amount is allowed.
    m.apply("propose_resolution", ProposeResolution(type=kind, amount=Decimal("299.00")), T0 + MINUTE)
    assert m.state.status == next_status


@pytest.mark.parametrize(
    ("kind", "next_status"),
    [(ResolutionType.REPAIR, Status.REPAIRING), (ResolutionType.EXPLANATION, Status.RESOLVING)],
)
def test_a_proposal_that_moves_no_money_is_not_capped(policy, kind, next_status) -> None:
    m = general(policy, order_amount="299.00")
    m.apply("propose_resolution", ProposeResolution(type=kind, amount=Decimal("900")), T0 + MINUTE)
    assert m.state.proposal is not None and m.state.proposal.amount == Decimal("900")
    assert m.state.status == next_status  # repair and explanation never need approval


def test_escalate_below_level_one_is_allowed_up_to_it(policy) -> None:
    m = general(policy)
    m.apply("escalate", Escalate(reason="a"), T0 + MINUTE)
    m.apply("escalate", Escalate(reason="b"), T0 + 2 * MINUTE)
    assert (m.state.escalation_level, m.state.escalations) == (1, 2)
    with pytest.raises(InvalidAction):
        m.check("escalate", Escalate(reason="c"))
    assert m.state.tier == Tier.GENERAL
