"""The role table covers every action of the registry, and the customer's link only its own few."""

from cases.actions.registry import ACTION_MODELS
from cases.actions.roles import ACTION_ROLES, CUSTOMER_ACTIONS, Role, may


def test_every_action_of_the_registry_has_roles() -> None:
    assert set(ACTION_ROLES) == set(ACTION_MODELS)
    assert all(ACTION_ROLES[a] for a in ACTION_ROLES)


def test_only_reviewers_and_supervisors_approve_and_reject() -> None:
    for action in ("approve", "reject"):
        assert {r for r in Role if may(r, action)} == {Role.REVIEWER, Role.SUPERVISOR}


def test_the_warehouse_moves_goods_and_nothing_about_money() -> None:
    allowed = {a for a in ACTION_MODELS if may(Role.WAREHOUSE, a)}
    assert allowed == {"note", "return_shipped", "return_received", "inspection_result", "repair_result"}


def test_customer_actions_are_actions_and_exclude_money() -> None:
    assert CUSTOMER_ACTIONS <= set(ACTION_MODELS)
    assert not CUSTOMER_ACTIONS & {"approve", "reject", "propose_resolution", "assign"}
    assert not may(Role.SYSTEM, "unknown_action")
