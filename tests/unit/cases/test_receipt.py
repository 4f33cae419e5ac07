"""An update's receipt, read from either shape: this build's receipt, or the whole state that
builds up to 1.1 answered with (each release's carried state stands in for one)."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from cases.models import CaseState
from cases.receipt import CaseReceipt

CARRIED = sorted((Path(__file__).parents[2] / "carried").glob("*.json"))


@pytest.mark.parametrize("path", CARRIED, ids=[p.stem for p in CARRIED])
def test_a_whole_state_reads_as_the_receipt_of_it(path: Path) -> None:
    whole = json.loads(path.read_text())["resume"]["state"]
    state = CaseState.model_validate(whole)
    assert state.due_at is not None
    assert CaseReceipt.model_validate(whole) == CaseReceipt.of(state)
    assert CaseReceipt.model_validate_json(json.dumps(whole)) == CaseReceipt.of(state)


def test_a_receipt_reads_as_itself() -> None:
    receipt = CaseReceipt.model_validate({"case_id": "c1", "last_seq": 4, "status": "acknowledged"})
    assert (receipt.last_seq, receipt.status.value, receipt.due_at) == (4, "acknowledged", None)


def test_a_broken_whole_state_is_refused_without_quoting_it() -> None:
    with pytest.raises(ValidationError) as err:
        CaseReceipt.model_validate({"intake": {"customer": {"phone": "+8613800000000"}}, "case_id": "c1"})
    assert "+8613800000000" not in str(err.value)
