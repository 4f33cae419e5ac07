"""How the service report takes a rate: one rule for every figure, in `figures`, `duties` and
`interventions`."""

from __future__ import annotations


def ratio(numerator: int, denominator: int) -> float | None:
    # No cases (or no ratings, no due follow-ups, no deadline decided) is "no figure", not 0 %:
    # an empty tier did not fail its target, and a merchant never asked did not fail to answer.
    return numerator / denominator if denominator else None
