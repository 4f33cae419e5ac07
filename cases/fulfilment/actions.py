"""The input models of the fulfilment and conversation actions (workflow updates).

The warehouse, logistics and field-service systems report the physical legs; agents and
customers exchange messages. One model per action, like those in `cases/models.py`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from cases.boundary import LongText, NonEmpty, NoNul, Text
from cases.fulfilment.models import InspectionOutcome, RepairOutcome
from cases.models import Action

Reference = Annotated[str, StringConstraints(min_length=1, max_length=120), NoNul]


class ReturnShipped(Action):
    actor: NonEmpty = "customer"
    carrier: NonEmpty
    tracking_number: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-]{3,39}$")
    ]


class ReturnDelivered(Action):
    """The carrier's "delivered" event for the return parcel (STANDARDS S15.5)."""

    actor: NonEmpty = "carrier"
    note: Text = ""


class ReturnReceived(Action):
    actor: NonEmpty = "warehouse"
    note: Text = ""


class InspectionResult(Action):
    actor: NonEmpty = "warehouse"
    result: InspectionOutcome
    notes: Text = ""
    evidence: Annotated[list[Reference], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _failure_says_why(self) -> InspectionResult:
        if self.result == InspectionOutcome.FAILED and not self.notes:
            raise ValueError("notes: a failed inspection must say why (the customer is told)")
        return self


class RepairResult(Action):
    actor: NonEmpty = "field-service"
    result: RepairOutcome
    repair_record: Reference | None = None
    note: Text = ""

    @model_validator(mode="after")
    def _fixed_has_record(self) -> RepairResult:
        if self.result == RepairOutcome.FIXED and self.repair_record is None:
            raise ValueError("repair_record: a fixed repair must name its repair record")
        return self


class AgentReply(Action):
    text: LongText


class CustomerMessage(Action):
    actor: NonEmpty = "customer"
    text: LongText
