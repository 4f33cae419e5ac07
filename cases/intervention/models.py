"""An intervention's record in the case: who asked, the evidence, the ruling and its carrying out.

Evidence is references (to files kept elsewhere) and text, never the files themselves. The stage
is a number, so the UI can filter on it as an Int search attribute (STANDARDS S16.7).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import IntEnum, StrEnum

from pydantic import BaseModel


class Party(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    PLATFORM = "platform"


class Stage(IntEnum):
    NONE = 0
    EVIDENCE = 1  # the merchant answers within its window
    HEARING = 2  # the arbiter hears, asks for more, and rules
    SECOND_ARBITER = 3  # a large ruling waits for a second arbiter
    CARRYING_OUT = 4  # the merchant carries the ruling out within its window
    CARRIED_OUT = 5  # by the merchant
    PLATFORM_PAID = 6  # the platform paid the buyer first and recovers from the merchant
    REJECTED = 7  # ruled for the merchant
    CLOSED = 8


class Decision(StrEnum):
    REFUND = "refund"
    RETURN_REFUND = "return_refund"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    REJECT = "reject"


# Before a ruling for the buyer has been carried out: the case must not end or reopen under it.
UNDECIDED = frozenset({Stage.EVIDENCE, Stage.HEARING, Stage.SECOND_ARBITER, Stage.CARRYING_OUT})

# Rulings the platform can carry out itself by paying: the money ones.
MONEY_DECISIONS = frozenset({Decision.REFUND, Decision.RETURN_REFUND})
GOODS_DECISIONS = frozenset({Decision.EXCHANGE, Decision.REPAIR})


class Evidence(BaseModel):
    party: Party
    by: str
    at: datetime
    references: list[str] = []
    text: str = ""


class Ruling(BaseModel):
    decision: Decision
    amount: Decimal = Decimal("0")
    reason: str
    by: str
    at: datetime
    # The second arbiter of a ruling over the platform's limit.
    confirmed_by: str | None = None
    # Heard on appeal: final.
    appeal: bool = False

    @property
    def for_buyer(self) -> bool:
        return self.decision != Decision.REJECT


class Intervention(BaseModel):
    asked_by: str
    party: Party
    asked_at: datetime
    reason: str
    stage: Stage = Stage.EVIDENCE
    evidence: list[Evidence] = []
    # Parties the arbiter asked for more evidence, whose window is still open.
    awaited: list[Party] = []
    pending: Ruling | None = None
    ruling: Ruling | None = None
    # Everyone who ruled or confirmed a ruling: none of them hears the appeal.
    arbiters: list[str] = []
    appealed_by: Party | None = None
    # The ruling can no longer be appealed (its window ended, or it was the appeal's).
    final: bool = False
    platform_paid: Decimal = Decimal("0")
    recovery_settled: bool = False
    closed_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.stage != Stage.CLOSED
