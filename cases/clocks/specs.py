"""Which clocks there are, and everything the engine knows about each: one row per clock.

A row names the clock's label, where an operator sets its target in the policy file (and the
target for a file that leaves it out), and what its warning and its breach do. The case starts a
clock by name (`CaseCore.start_clock`), which reads the target from the row's policy key; a case
whose policy predates the clock never starts it. `CaseMachine.fire_due` does what the row says
when the warning or the breach comes; the UI's clock table, the report and what-if label it from
here. A new clock is its row, its key in the shipped policy, and the line that starts it; a
clock whose target is in the tier table is one of every round's clocks, started when a case opens
and when it reopens. A clock under `[clocks]` names a default, so a policy file written before it
still loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ClockName(StrEnum):
    FIRST_RESPONSE = "first_response"
    INITIAL_HANDLING = "initial_handling"
    RESOLUTION = "resolution"
    CLOSURE = "closure"
    APPROVAL = "approval"
    # The customer ships the return within the return window (STANDARDS S10.4).
    RETURN_WINDOW = "return_window"
    # The carrier delivers the shipped return to the warehouse (STANDARDS S10.4).
    RETURN_TRANSIT = "return_transit"
    # The warehouse inspects a received return (验货, STANDARDS S10.5).
    INSPECTION = "inspection"
    # A repair visit or mail-in is booked (维修响应, STANDARDS S10.6).
    REPAIR = "repair"
    # Staff answer the customer's latest message (STANDARDS S11.2).
    NEXT_REPLY = "next_reply"
    # The merchant answers the buyer's request (STANDARDS S15.4).
    MERCHANT_ANSWER = "merchant_answer"
    # The merchant refunds, or reports a failed inspection, once the return is delivered (S15.5).
    DELIVERED_RETURN = "delivered_return"
    # The platform steps in (STANDARDS S16): the merchant's evidence, more evidence the arbiter
    # asked a party for, and the merchant carrying the ruling out.
    INTERVENTION_EVIDENCE = "intervention_evidence"
    BUYER_MORE_EVIDENCE = "buyer_more_evidence"
    MERCHANT_MORE_EVIDENCE = "merchant_more_evidence"
    RULING_CARRY_OUT = "ruling_carry_out"


class OnWarning(StrEnum):
    TELL_SUPERVISOR = "tell_supervisor"
    # The customer's own window: the reminder goes to them, not to staff.
    REMIND_TO_SHIP = "remind_to_ship"


class OnBreach(StrEnum):
    ESCALATE = "escalate"
    # The customer's window ended: the return lapses, no target staff missed (STANDARDS S10.4).
    LAPSE_RETURN = "lapse_return"
    # The policy says what a warehouse's silence means: a pass, or an escalation (STANDARDS S10.5).
    ASK_POLICY = "ask_policy"
    # A parcel lost on the way is the merchant's problem: escalate, and the paused clocks count on.
    CHASE_CARRIER = "chase_carrier"
    # The merchant did not answer the buyer's request: it has agreed (STANDARDS S15.4).
    AGREE_BY_SILENCE = "agree_by_silence"
    # The merchant did not deal with a delivered return: the goods pass and the buyer is refunded
    # (STANDARDS S15.5).
    REFUND_BY_SILENCE = "refund_by_silence"
    # A party silent past its evidence window: the arbiter rules on the evidence there is (S16.2).
    HEAR_ON_EVIDENCE = "hear_on_evidence"
    # The merchant did not carry the ruling out: the platform pays first and recovers (S16.4).
    PLATFORM_PAYS = "platform_pays"


class Owner(StrEnum):
    """Whose duty the clock times: who misses it, and who a breach speaks of."""

    STAFF = "staff"  # the service staff handling the case
    BUYER = "buyer"
    CARRIER = "carrier"
    WAREHOUSE = "warehouse"
    MERCHANT = "merchant"


# Policy keys a clock's target can come from beside a plain duration in the file.
TIER_TARGETS = "targets"  # the tier's table, tightened by the overrides (every round's clocks)
NEXT_REPLY_TARGETS = "conversation.next_reply"  # per tier, tighter for VIP customers


@dataclass(frozen=True)
class ClockSpec:
    label: str
    # Where the target is set in the policy file: a dotted key to a duration, such as
    # "approval.target", or one of the tables above.
    policy_key: str
    on_warning: OnWarning = OnWarning.TELL_SUPERVISOR
    on_breach: OnBreach = OnBreach.ESCALATE
    # The target when a policy file leaves the key out (one written before the clock existed);
    # None makes the key required. The shipped clocks' sections carry their own defaults.
    default: str | None = None
    owner: Owner = Owner.STAFF


CLOCKS: dict[ClockName, ClockSpec] = {
    ClockName.FIRST_RESPONSE: ClockSpec("first response", TIER_TARGETS),
    ClockName.INITIAL_HANDLING: ClockSpec("initial handling", TIER_TARGETS),
    ClockName.RESOLUTION: ClockSpec("resolution", TIER_TARGETS),
    ClockName.CLOSURE: ClockSpec("complaint closure", TIER_TARGETS),
    ClockName.APPROVAL: ClockSpec("approval", "approval.target"),
    ClockName.RETURN_WINDOW: ClockSpec(
        "return shipment", "returns.window", OnWarning.REMIND_TO_SHIP, OnBreach.LAPSE_RETURN, owner=Owner.BUYER
    ),
    ClockName.RETURN_TRANSIT: ClockSpec(
        "return delivery", "returns.transit_window", on_breach=OnBreach.CHASE_CARRIER, owner=Owner.CARRIER
    ),
    ClockName.INSPECTION: ClockSpec(
        "inspection", "returns.inspection_window", on_breach=OnBreach.ASK_POLICY, owner=Owner.WAREHOUSE
    ),
    ClockName.REPAIR: ClockSpec("repair response", "repair.response"),
    ClockName.NEXT_REPLY: ClockSpec("next reply", NEXT_REPLY_TARGETS),
    ClockName.MERCHANT_ANSWER: ClockSpec(
        "merchant's answer", "platform.answer_within", on_breach=OnBreach.AGREE_BY_SILENCE,
        owner=Owner.MERCHANT,
    ),
    ClockName.DELIVERED_RETURN: ClockSpec(
        "delivered return handled", "platform.delivered_return_within", on_breach=OnBreach.REFUND_BY_SILENCE,
        owner=Owner.MERCHANT,
    ),
    ClockName.INTERVENTION_EVIDENCE: ClockSpec(
        "merchant's evidence", "platform.intervention_evidence_within", on_breach=OnBreach.HEAR_ON_EVIDENCE,
        owner=Owner.MERCHANT,
    ),
    ClockName.BUYER_MORE_EVIDENCE: ClockSpec(
        "buyer's further evidence", "platform.intervention_more_evidence_within",
        on_breach=OnBreach.HEAR_ON_EVIDENCE, owner=Owner.BUYER,
    ),
    ClockName.MERCHANT_MORE_EVIDENCE: ClockSpec(
        "merchant's further evidence", "platform.intervention_more_evidence_within",
        on_breach=OnBreach.HEAR_ON_EVIDENCE, owner=Owner.MERCHANT,
    ),
    ClockName.RULING_CARRY_OUT: ClockSpec(
        "ruling carried out", "platform.intervention_carry_out_within", on_breach=OnBreach.PLATFORM_PAYS,
        owner=Owner.MERCHANT,
    ),
}

# The clocks of every round of handling, started when a case opens and again when it reopens:
# those whose targets are the tier's.
HANDLING_CLOCKS = tuple(name for name, spec in CLOCKS.items() if spec.policy_key == TIER_TARGETS)
# Clocks whose target is one duration in the policy file.
PLAIN_CLOCKS = tuple(
    name for name, spec in CLOCKS.items() if spec.policy_key not in (TIER_TARGETS, NEXT_REPLY_TARGETS)
)
LABELS = {name: spec.label for name, spec in CLOCKS.items()}
