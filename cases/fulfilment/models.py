"""The physical legs of a resolution: a return on its way back, and a repair job.

Part of the case vocabulary (`cases/models.py` carries them in the case state). A return leg
follows the goods from the return authorisation to the inspection's verdict; a repair job
follows a booked visit or mail-in to its result. Both hold the references that the result
notification carries as proof.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class InspectionOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"


class RepairOutcome(StrEnum):
    FIXED = "fixed"
    NOT_FIXABLE = "not_fixable"


class RepairMode(StrEnum):
    ON_SITE = "on_site"
    MAIL_IN = "mail_in"


class ReturnLeg(BaseModel):
    rma: str
    address: str
    authorized_at: datetime
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: datetime | None = None
    # The carrier's word that the parcel reached the merchant's return address (STANDARDS S15.5).
    delivered_at: datetime | None = None
    received_at: datetime | None = None
    inspection: InspectionOutcome | None = None
    inspected_at: datetime | None = None
    # True when the warehouse stayed silent past the inspection window and the policy passed it.
    passed_by_silence: bool = False
    inspection_notes: str = ""
    evidence: list[str] = []


class RepairJob(BaseModel):
    mode: RepairMode = RepairMode.ON_SITE
    booking: str | None = None
    scheduled_for: datetime | None = None
    booking_failed: bool = False
    outcome: RepairOutcome | None = None
    record: str | None = None
    outcome_at: datetime | None = None
