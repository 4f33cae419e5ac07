"""Classification and tiering (分类/分级) of a new case from its intake.

The rules are those of STANDARDS S1.1: safety problems and outages take the urgent (emergency)
path; major problems, cases that need several departments, and large orders are complex;
everything else is general. Major complaints (重大投诉, STANDARDS S2.4) also go to a dedicated
team. Pure functions of the intake, so the workflow can call them and get the same answer on
replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from cases.intake.text_signals import find_signals
from cases.models import CaseIntake, Category, Tier


def classify(intake: CaseIntake, major_amount_threshold: Decimal) -> Tier:
    """The tier of a case; an order of `major_amount_threshold` or more is at least complex."""
    flags = intake.flags
    if intake.category == Category.SAFETY or flags.safety_risk or flags.outage:
        return Tier.URGENT
    if flags.cross_department or flags.major_complaint:
        return Tier.COMPLEX
    if intake.order_amount >= major_amount_threshold:
        return Tier.COMPLEX
    return Tier.GENERAL


def flags_from_text(
    intake: CaseIntake, signals: Mapping[str, Sequence[str]]
) -> tuple[CaseIntake, dict[str, list[str]]]:
    """The intake with every flag its description signals set, and the phrases that set them.

    A flag the backend already set stays as it is; the phrases only add what it left out
    (STANDARDS S12.2). `reclassify` can take a flag back.
    """
    found = find_signals(intake.description, signals)
    unset = {flag: phrases for flag, phrases in found.items() if not getattr(intake.flags, flag)}
    if not unset:
        return intake, {}
    flags = intake.flags.model_copy(update={flag: True for flag in unset})
    return intake.model_copy(update={"flags": flags}), unset
