"""The case vocabulary: intake, statuses, clocks, actions and the case state.

These pydantic models are the wire format between every part of the engine (client, workflow,
activities, PostgreSQL projection, CLI). They hold no I/O, so workflow code imports them freely.
Fields are only ever added with defaults, so old histories keep decoding.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from cases.actions.roles import Role
from cases.boundary import LongText, NonEmpty, Strict, Text
from cases.clocks.model import Clock as Clock
from cases.clocks.model import ClockState as ClockState
from cases.clocks.specs import ClockName as ClockName
from cases.contact import Email, Phone
from cases.fulfilment.models import RepairJob, RepairMode, ReturnLeg
from cases.ids import CASE_ID_PATTERN, DEFAULT_MERCHANT, MERCHANT_ID_PATTERN, case_key
from cases.intervention.models import Intervention
from cases.platform.models import BuyerRequest, ItemRepairs, OrderFacts, RequestState
from cases.routing.models import Routing


class Tier(StrEnum):
    URGENT = "urgent"
    COMPLEX = "complex"
    GENERAL = "general"


class CustomerTier(StrEnum):
    STANDARD = "standard"
    VIP = "vip"


class Channel(StrEnum):
    APP = "app"
    WEB = "web"
    PHONE = "phone"
    EMAIL = "email"
    SOCIAL = "social"
    STORE = "store"


class Category(StrEnum):
    PRODUCT_QUALITY = "product_quality"
    LOGISTICS = "logistics"
    DESCRIPTION_MISMATCH = "description_mismatch"
    SERVICE_ATTITUDE = "service_attitude"
    SAFETY = "safety"
    BILLING = "billing"
    OTHER = "other"


class Status(StrEnum):
    REGISTERED = "registered"
    ACKNOWLEDGED = "acknowledged"
    AWAITING_CUSTOMER = "awaiting_customer"
    AWAITING_APPROVAL = "awaiting_approval"
    RESOLVING = "resolving"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AWAITING_RATING = "awaiting_rating"
    FOLLOW_UP = "follow_up"
    # The legs of a return and of a repair (STANDARDS S10.4-S10.6).
    AWAITING_RETURN = "awaiting_return"
    RETURN_IN_TRANSIT = "return_in_transit"
    INSPECTING = "inspecting"
    REPAIRING = "repairing"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    # The customer did not ship an authorised return within the return window.
    LAPSED = "lapsed"


# Statuses in which the case is still being handled: withdraw is allowed, and the
# handling clocks matter.
OPEN_STATUSES = frozenset(
    {
        Status.REGISTERED,
        Status.ACKNOWLEDGED,
        Status.AWAITING_CUSTOMER,
        Status.AWAITING_APPROVAL,
    }
)
FINAL_STATUSES = frozenset({Status.CLOSED, Status.WITHDRAWN, Status.LAPSED})


class ResolutionType(StrEnum):
    # Money back at once, as before return plans existed; new callers choose one of the next two.
    REFUND = "refund"
    REFUND_ONLY = "refund_only"  # 仅退款: no return (lost parcel, low value, return waived)
    RETURN_REFUND = "return_refund"  # 退货退款: refund after the return passes inspection
    EXCHANGE = "exchange"
    REPAIR = "repair"
    COMPENSATION = "compensation"
    EXPLANATION = "explanation"


class FollowUpOutcome(StrEnum):
    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"
    RECURRED = "recurred"
    UNREACHABLE = "unreachable"


# -- Intake ----------------------------------------------------------------------------------


class Customer(Strict):
    id: NonEmpty
    name: NonEmpty | None = None
    phone: Phone | None = None
    email: Email | None = None
    tier: CustomerTier = CustomerTier.STANDARD
    # How the customer can be reached, captured at intake: no decision reads a personal field.
    reachable_by_sms: bool = False
    reachable_by_email: bool = False

    @model_validator(mode="before")
    @classmethod
    def _capture_reach(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = {"reachable_by_sms": data.get("phone") is not None, "reachable_by_email": data.get("email") is not None}
        return given | data


class Flags(Strict):
    safety_risk: bool = False
    outage: bool = False
    cross_department: bool = False
    # 重大投诉 (STANDARDS S2.4): goes to the dedicated major-complaints team.
    major_complaint: bool = False


CaseId = Annotated[str, StringConstraints(pattern=CASE_ID_PATTERN)]
MerchantId = Annotated[str, StringConstraints(pattern=MERCHANT_ID_PATTERN)]


class CaseIntake(Strict):
    """What a backend system sends to open a case. Plain JSON, so any Temporal SDK can start one."""

    case_id: CaseId | None = None
    # The merchant the case belongs to; a single-merchant install never names one.
    merchant_id: MerchantId = DEFAULT_MERCHANT
    order_id: NonEmpty
    customer: Customer
    channel: Channel
    category: Category
    description: LongText
    order_amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    requested_resolution: ResolutionType | None = None
    flags: Flags = Flags()
    # The buyer's request to the merchant, with the order facts the law reads (STANDARDS S15).
    request: BuyerRequest | None = None

    @model_validator(mode="after")
    def _request_within_the_order(self) -> CaseIntake:
        if self.request is not None and (why := self.request.beyond(self.order_amount)):
            raise ValueError(f"request.{why}")
        return self

    @property
    def key(self) -> str:
        """The engine's name for this case (cases/ids.py); the intake must name its case."""
        assert self.case_id is not None
        return case_key(self.case_id, self.merchant_id)


# -- Actions (workflow updates). One input model per action. ---------------------------------


class Action(Strict):
    actor: NonEmpty = "system"


class Acknowledge(Action):
    message: Text | None = None


class Assign(Action):
    handler: NonEmpty
    team: NonEmpty | None = None


class Note(Action):
    text: LongText


class RequestInfo(Action):
    question: LongText


class CustomerReply(Action):
    actor: NonEmpty = "customer"
    text: Text = ""


class Reclassify(Action):
    tier: Tier | None = None
    category: Category | None = None
    flags: Flags | None = None
    reason: Text = ""


MUST_PAY = frozenset(
    {ResolutionType.REFUND, ResolutionType.REFUND_ONLY, ResolutionType.RETURN_REFUND,
     ResolutionType.COMPENSATION}
)


class ProposeResolution(Action):
    type: ResolutionType
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] = Decimal("0")
    note: Text = ""
    # refund_only: the agent waives the return (the note says why).
    waive_return: bool = False
    repair_mode: RepairMode = RepairMode.ON_SITE

    @field_validator("amount")
    @classmethod
    def _amount_fits_type(cls, v: Decimal, info: Any) -> Decimal:
        kind = info.data.get("type")
        if kind in MUST_PAY and v <= 0:
            raise ValueError(f"a {kind} needs an amount above 0")
        return v


class Approve(Action):
    note: Text = ""
    # The approver's role, set from their API key (STANDARDS S3.3, S13.2).
    role: Role | None = None


class Reject(Action):
    reason: LongText
    role: Role | None = None


class Confirm(Action):
    actor: NonEmpty = "customer"


class Dispute(Action):
    actor: NonEmpty = "customer"
    reason: LongText


class Rate(Action):
    actor: NonEmpty = "customer"
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Text = ""


class FollowUpResult(Action):
    outcome: FollowUpOutcome
    note: Text = ""


class Escalate(Action):
    reason: LongText


class Withdraw(Action):
    actor: NonEmpty = "customer"
    reason: Text = ""


# -- State -----------------------------------------------------------------------------------


class Proposal(BaseModel):
    type: ResolutionType
    amount: Decimal = Decimal("0")
    note: str = ""
    proposed_by: str
    proposed_at: datetime
    needs_approval: bool = False
    number: int = 1
    waive_return: bool = False
    repair_mode: RepairMode = RepairMode.ON_SITE
    # Who pays, when not the merchant: "platform" when it pays a ruling first (STANDARDS S16.4).
    payer: str | None = None


class ReviewDecision(BaseModel):
    approved: bool
    by: str
    at: datetime
    note: str = ""


class ExecutedStep(BaseModel):
    step: str
    reference: str
    compensated: bool = False


class Resolution(BaseModel):
    type: ResolutionType
    amount: Decimal
    executed_at: datetime
    steps: list[ExecutedStep] = []
    # What was done, for the customer's feedback: refund_reference, replacement_tracking,
    # repair_record or coupon_code.
    proof: dict[str, str] = {}


class FollowUp(BaseModel):
    required: bool
    reason: str
    scheduled_for: datetime | None = None
    reference: str | None = None
    outcome: FollowUpOutcome | None = None
    outcome_at: datetime | None = None


class CaseEvent(BaseModel):
    """One append-only audit event. `seq` is per case and makes every write idempotent."""

    seq: int
    type: str
    actor: str
    at: datetime
    data: dict[str, Any] = {}


class CaseState(BaseModel):
    """The full case: what the `state` query returns and `aftersales show` prints."""

    case_id: str
    workflow_id: str
    intake: CaseIntake
    tier: Tier
    category: Category
    status: Status
    escalation_level: int
    handler: str | None = None
    team: str | None = None
    opened_at: datetime
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    clocks: dict[ClockName, Clock] = {}
    proposal: Proposal | None = None
    proposals_made: int = 0
    review: ReviewDecision | None = None
    resolution: Resolution | None = None
    resolved_at: datetime | None = None
    confirmation: str | None = None
    confirmation_due_at: datetime | None = None
    survey_due_at: datetime | None = None
    rating: int | None = None
    rating_comment: str | None = None
    quality_review: bool = False
    follow_up: FollowUp | None = None
    reopen_count: int = 0
    escalations: int = 0
    notifications: list[str] = []
    last_seq: int = 0
    runs: int = 1
    return_leg: ReturnLeg | None = None
    repair: RepairJob | None = None
    # The case's place in the roster (team queue or agent), see cases/routing/placement.py.
    routing: Routing
    # The buyer's request to the merchant, the order facts the law read, and the item's earlier
    # repairs (cases/platform/).
    request: RequestState | None = None
    order: OrderFacts | None = None
    item_repairs: ItemRepairs | None = None
    # Money paid to the customer in every round so far: a later request never asks beyond the rest.
    paid_out: Decimal = Decimal("0")
    intervention: Intervention | None = None  # the platform stepping in (cases/intervention/)

    @property
    def sla_state(self) -> str:
        """The worst clock state, for the `SlaState` search attribute."""
        order = [ClockState.BREACHED, ClockState.WARNED, ClockState.RUNNING, ClockState.PAUSED]
        states = {
            c.state
            for c in self.clocks.values()
            if c.stopped_at is None or c.state in (ClockState.BREACHED, ClockState.WARNED)
        }
        for s in order:
            if s in states:
                return s.value
        return ClockState.MET.value

    @property
    def due_at(self) -> datetime | None:
        """The earliest due time of the case's clocks (the `SlaDueAt` search attribute)."""
        dues = [c.due_at for c in self.clocks.values() if c.due_at is not None]
        return min(dues) if dues else None

