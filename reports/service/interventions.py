"""The platform stepping in on a dispute between buyer and merchant (平台介入, STANDARDS S16): the
figures, and their assembly from the rows of report.sql's `interventions`.

A buyer whose request the merchant rejected, or left unsettled, may ask the platform to step in;
the platform rules for the buyer (a refund, a return, an exchange, a repair: against the merchant)
or rejects the request (for the merchant), and the merchant must carry a ruling against it out
within its deadline, else the platform pays the buyer first and recovers the money from the
merchant, holding the merchant's settlement for the order while the intervention is open.
`MerchantInterventions` holds those figures for the whole platform and for each merchant. As in
`figures` and `duties`, counts are stored and every rate is derived from them.

The figures cover three spans, because the money moves long after the case opens: the case counts
are over the cases opened in the period, the ledger over its rows dated in the period, and the
holds are those still open at the period's end. The ledger is kept per currency: amounts in two
currencies are never added up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, computed_field

from reports.service.rates import ratio

ZERO = Decimal("0")


class LedgerAmounts(BaseModel):
    """One currency of the merchant ledger's rows dated in the period (activities/ledger.py):
    each payout the platform made first opens a recovery of the same amount, which the merchant
    settles later."""

    platform_payouts: Decimal = ZERO
    recoveries: Decimal = ZERO
    settled: Decimal = ZERO

    @computed_field  # type: ignore[prop-decorator]
    @property
    def owed(self) -> Decimal:
        """Recoveries opened in the period less settlements made in it, as the view
        `merchant_balances` takes it over all time; below zero when the merchant settled more in
        the period than the period's payouts opened."""
        return self.recoveries - self.settled


class InterventionFigures(BaseModel):
    """The interventions of one merchant, or of the whole platform."""

    requested_cases: int = 0
    intervened_cases: int = 0
    ruled_against: int = 0
    ruled_for: int = 0
    not_carried_out: int = 0
    open_holds: int = 0
    # By currency code, in code order.
    ledger: dict[str, LedgerAmounts] = {}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def intervention_rate(self) -> float | None:
        """Cases with a buyer's request on which the platform was asked to step in, over cases
        with a buyer's request: the one denominator, for the platform and every merchant."""
        return ratio(self.intervened_cases, self.requested_cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rulings(self) -> int:
        return self.ruled_against + self.ruled_for


class MerchantInterventions(BaseModel):
    """The interventions of the whole platform and of every merchant with a buyer's request in the
    period's cases, an intervention, a ledger row dated in the period or a hold open at its end,
    by merchant id. The pages show only the worst merchants (intervention_table.py); the whole
    list lives here and in the JSON."""

    overall: InterventionFigures = Field(default_factory=InterventionFigures)
    by_merchant: dict[str, InterventionFigures] = {}


_COUNTS = tuple(name for name in InterventionFigures.model_fields if name != "ledger")


def _ledger(row: Mapping[str, Any]) -> dict[str, LedgerAmounts]:
    # The statement returns one array per amount, all in the order of `currencies`, and NULLs for
    # a group without a ledger row in the period.
    currencies = row["currencies"] or []
    columns = zip(currencies, row["platform_payouts"] or [], row["recoveries"] or [],
                  row["settled"] or [], strict=True)
    return {
        currency: LedgerAmounts(platform_payouts=paid, recoveries=recovered, settled=settled)
        for currency, paid, recovered, settled in columns
    }


def assemble_interventions(rows: Sequence[Mapping[str, Any]]) -> MerchantInterventions:
    """The `MerchantInterventions` from the rows of `interventions` (see report.sql)."""
    overall = InterventionFigures()
    by_merchant: dict[str, InterventionFigures] = {}
    for row in rows:
        figures = InterventionFigures(**{name: row[name] for name in _COUNTS}, ledger=_ledger(row))
        if row["dimension"] == "all":
            overall = figures
        else:
            by_merchant[row["grp"]] = figures
    return MerchantInterventions(overall=overall, by_merchant=dict(sorted(by_merchant.items())))
