"""The roles on the registry's rows: every action names some, and the customer's link only its own few."""

from cases.actions.registry import ACTIONS, CUSTOMER_ACTIONS, may
from cases.actions.roles import Role


def test_every_action_of_the_registry_has_roles() -> None:
    assert all(spec.roles for spec in ACTIONS.values())


def test_only_reviewers_and_supervisors_approve_and_reject() -> None:
    for action in ("approve", "reject"):
        assert {r for r in Role if may(r, action)} == {Role.REVIEWER, Role.SUPERVISOR}


def test_the_warehouse_moves_goods_and_nothing_about_money() -> None:
    allowed = {a for a in ACTIONS if may(Role.WAREHOUSE, a)}
    assert allowed == {
        "note", "return_shipped", "return_delivered", "return_received", "inspection_result", "repair_result"
    }


def test_customer_actions_are_the_customers_own_and_exclude_money() -> None:
    # A request asks the merchant for money; only the merchant's answer, or its silence, moves it.
    # Nor do the intervention's: the platform's arbiter decides.
    assert CUSTOMER_ACTIONS == {
        "customer_message", "confirm", "dispute", "rate", "request_remedy", "ask_intervention", "submit_evidence",
        "appeal",
    }
    assert not may(Role.SYSTEM, "unknown_action")
