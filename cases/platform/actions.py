"""The input models of the platform's actions: the buyer's request and the merchant's answer.
One model per action, like `cases/models.py`; the carrier's delivery of a return is a leg's
action (`cases/fulfilment/actions.py`)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import model_validator

from cases.boundary import NonEmpty, Text
from cases.models import Action
from cases.platform.models import BuyerRequest


class RemedyRequest(BuyerRequest, Action):
    actor: NonEmpty = "customer"


class Decision(StrEnum):
    AGREE = "agree"
    REJECT = "reject"


class MerchantAnswer(Action):
    decision: Decision
    reason: Text = ""

    @model_validator(mode="after")
    def _rejection_says_why(self) -> MerchantAnswer:
        if self.decision == Decision.REJECT and not self.reason:
            raise ValueError("reason: a rejection must say why (the buyer is told)")
        return self
