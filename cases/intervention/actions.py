"""The input models of an intervention's actions (workflow updates). One model per action.

A party names itself where it matters (whose evidence, whose appeal); the customer's link always
speaks for the buyer. An arbiter's `role` is set from its API key, as an approver's is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from cases.actions.roles import Role
from cases.boundary import LongText, NonEmpty, Text
from cases.fulfilment.actions import Reference
from cases.intervention.models import Decision, Party
from cases.models import Action

References = Annotated[list[Reference], Field(max_length=20)]


class AskIntervention(Action):
    actor: NonEmpty = "customer"
    party: Party = Party.BUYER
    reason: LongText
    references: References = []
    role: Role | None = None


class SubmitEvidence(Action):
    party: Party
    text: Text = ""
    references: References = []
    role: Role | None = None

    @model_validator(mode="after")
    def _says_something(self) -> SubmitEvidence:
        if not self.text and not self.references:
            raise ValueError("references: evidence needs references or text")
        return self


class RequestEvidence(Action):
    party: Party
    question: LongText
    role: Role | None = None


class Rule(Action):
    decision: Decision
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] = Decimal("0")
    reason: LongText
    role: Role | None = None

    @model_validator(mode="after")
    def _money_fits(self) -> Rule:
        paying = self.decision in (Decision.REFUND, Decision.RETURN_REFUND)
        if paying and self.amount <= 0:
            raise ValueError(f"amount: a {self.decision.value} ruling needs an amount above 0")
        if not paying and self.amount:
            raise ValueError(f"amount: a {self.decision.value} ruling moves no money; leave it out")
        return self


class ConfirmRuling(Action):
    note: Text = ""
    # False: the second arbiter does not agree, and the case is heard again.
    agree: bool = True
    role: Role | None = None


class CarryOutRuling(Action):
    note: Text = ""


class Appeal(Action):
    actor: NonEmpty = "customer"
    party: Party = Party.BUYER
    reason: LongText
    role: Role | None = None
