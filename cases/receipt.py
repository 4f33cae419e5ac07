"""What an action's update answers, and what a finished case returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, model_validator

from cases.models import CaseState, Status


class CaseReceipt(BaseModel):
    """What an action's update answers, and what a finished case returns: never the whole state.

    Read the whole state with the `state` query, or from the API, which builds it from the
    record. Builds up to 1.1 answered with the whole state; that shape still reads as a receipt,
    so a client works with cases of either build while the older ones drain.
    """

    case_id: str
    # The last audit event's sequence number; the record holds it when the update answers.
    last_seq: int
    status: Status
    due_at: datetime | None = None

    @classmethod
    def of(cls, state: CaseState) -> CaseReceipt:
        return cls(case_id=state.case_id, last_seq=state.last_seq, status=state.status, due_at=state.due_at)

    @model_validator(mode="before")
    @classmethod
    def _from_whole_state(cls, data: Any) -> Any:
        """Only the four fields are read from a whole state, so a later change to the rest of the
        model cannot fail the read of an answer, nor an error quote a customer's details."""
        if not (isinstance(data, dict) and "intake" in data):
            return data
        clocks = data.get("clocks")
        dues = [c.get("due_at") for c in clocks.values() if isinstance(c, dict)] if isinstance(clocks, dict) else []
        return {
            "case_id": data.get("case_id"),
            "last_seq": data.get("last_seq"),
            "status": data.get("status"),
            "due_at": min((_instant(d) for d in dues if d is not None), default=None),
        }


def _instant(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
