"""The state each release carried across continue-as-new still loads and runs on this code.

A case of an older build moves onto the current build by continuing as new (docs/DEPLOY.md): the
new build's first task decodes the input the old build wrote. One file per release lies in
`tests/carried/`, taken from that release's continue-as-new golden history, and is never
re-recorded: a model change that would strand a moving case (a new required field, a removed or
renamed one) fails here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cases.core.machine import CaseMachine
from cases.models import FINAL_STATUSES, Note
from cases.policy.snapshot import shared_snapshot
from workflows.run_input import CaseInput

CARRIED = sorted((Path(__file__).resolve().parents[2] / "carried").glob("*.json"))


def test_every_release_since_1_0_left_its_carried_state() -> None:
    assert "1.0.0" in {path.stem for path in CARRIED}


@pytest.mark.parametrize("path", CARRIED, ids=lambda p: p.stem)
def test_the_carried_state_loads_and_takes_the_next_action(path: Path) -> None:
    carried = CaseInput.model_validate_json(path.read_text(encoding="utf-8"))
    run = carried.resume
    assert run is not None and run.state is not None and run.policy is not None
    # As the workflow's first task of the continued run builds it.
    machine = CaseMachine(run.state, shared_snapshot(run.policy))
    before = machine.state.last_seq
    assert machine.state.status not in FINAL_STATUSES
    later = machine.state.opened_at + timedelta(days=1)
    machine.apply("note", Note(actor="agent-9", text="after the move"), later)
    assert machine.state.last_seq > before
    assert machine.events[-1].type == "note"
