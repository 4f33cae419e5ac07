"""How a rate is taken: one rule for every figure of the service report (`figures`, `duties`,
`interventions`) and of the what-if (`reports/whatif/figures.py`)."""

from __future__ import annotations


def ratio(numerator: int, denominator: int) -> float | None:
    # No cases (or no ratings, no due follow-ups, no deadline decided) is "no figure", not 0 %:
    # an empty tier did not fail its target, and a merchant never asked did not fail to answer.
    return numerator / denominator if denominator else None
