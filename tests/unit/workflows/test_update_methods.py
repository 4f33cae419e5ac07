"""The workflow's update methods are exactly the actions of the registry and the operator's
`amend`, each with its validator.

A registry row without its update line would be unreachable, and a misspelt line would rename an
update that running cases and outside callers depend on.
"""

from __future__ import annotations

from temporalio.common import RawValue
from temporalio.workflow import _Definition

from cases.actions.registry import ACTIONS
from cases.ids import WORKFLOW_TYPE
from workflows.amendments import AMEND
from workflows.case_workflow import AfterSalesCase


def test_every_action_has_its_named_update_and_nothing_else() -> None:
    definition = _Definition.must_from_class(AfterSalesCase)
    assert definition.name == WORKFLOW_TYPE
    assert set(definition.updates) == set(ACTIONS) | {AMEND}
    for name, update in definition.updates.items():
        assert update.name == name
        assert update.validator is not None, name
        assert update.arg_types == [RawValue], (name, update.arg_types)
