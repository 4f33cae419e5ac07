"""A case holding what each intervention action answers, in whatever status the case is in:
the request the platform steps in on, or the intervention at the stage the action needs."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from cases.core.machine import CaseMachine
from cases.intervention.models import Decision, Intervention, Party, Ruling, Stage
from cases.intervention.ruling import CARRIABLE
from cases.platform.law import assess
from cases.platform.models import Answer, BuyerRequest, RequestState

ACTIONS = frozenset(
    {"ask_intervention", "submit_evidence", "request_evidence", "rule", "confirm_ruling", "carry_out_ruling",
     "appeal"}
)


def holding(m: CaseMachine, action: str, now: datetime) -> None:
    before = now - timedelta(hours=1)
    state = m.state
    if action == "ask_intervention":
        asked = BuyerRequest(remedy="refund_only", reason="other", amount=Decimal("10"))
        assert m.policy.platform is not None
        state.request = RequestState(
            remedy=asked.remedy, reason=asked.reason, amount=Decimal("10"), asked_by="customer", asked_at=before,
            eligibility=assess(asked, None, 0, before, m.policy.calendar, m.policy.platform),
            answer=Answer.REJECTED, answered_by="merchant-1", answered_at=before, rejection="no",
        )
        return
    found = Intervention(asked_by="customer", party=Party.BUYER, asked_at=before, reason="please")
    ruling = Ruling(decision=Decision.REFUND, amount=Decimal("10"), reason="r", by="arbiter-1", at=before)
    if action == "submit_evidence":
        found.stage = Stage.EVIDENCE
    elif action in ("request_evidence", "rule"):
        found.stage = Stage.HEARING
    elif action == "confirm_ruling":
        found.stage, found.pending = Stage.SECOND_ARBITER, ruling
    elif action == "carry_out_ruling" and state.status in CARRIABLE:
        found.stage, found.ruling = Stage.CARRYING_OUT, ruling
    elif action == "carry_out_ruling":  # a case under way elsewhere: the late refund settles
        found.stage, found.ruling, found.platform_paid = Stage.PLATFORM_PAID, ruling, Decimal("10")
    elif action == "appeal":
        found.stage, found.ruling = Stage.REJECTED, ruling.model_copy(update={"decision": Decision.REJECT,
                                                                              "amount": Decimal("0")})
    state.intervention = found
