"""The merchant's duties to the buyer (STANDARDS S15.4, S15.5): the figures, and their assembly
from the rows of report.sql's `merchant_duties`.

A buyer's request gives the merchant a deadline to answer (the `merchant_answer` clock), and a
return the carrier delivered gives it a deadline to refund or report a failed inspection (the
`delivered_return` clock). Silence past either deadline decides for the buyer: the request is
agreed, the goods pass and the buyer is refunded. `MerchantDuties` holds, for the cases opened in
the report's period, how each merchant met those deadlines and how often it left the decision to
silence, and the same for the whole platform. As in `figures`, only counts are stored and every
rate is derived from them, so a reader can see what each percentage was taken of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, computed_field

from reports.service.rates import ratio


class DutyFigures(BaseModel):
    """The merchant duties of one merchant, or of the whole platform.

    A deadline is decided once met or breached; one still running, or stopped because the case
    ended first, has no verdict and counts in no rate.
    """

    requests: int = 0
    answers_decided: int = 0
    answered_on_time: int = 0
    agreed_by_silence: int = 0
    delivered_returns_decided: int = 0
    refunded_by_silence: int = 0
    rejections_refused: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_answer_rate(self) -> float | None:
        """Requests the merchant answered by hand before its answer deadline, over requests whose
        answer deadline was decided (answered, or agreed by silence)."""
        return ratio(self.answered_on_time, self.answers_decided)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def auto_agreed_rate(self) -> float | None:
        """Requests agreed because the merchant did not answer in time, over requests whose answer
        deadline was decided."""
        return ratio(self.agreed_by_silence, self.answers_decided)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def auto_refunded_rate(self) -> float | None:
        """Delivered returns refunded because the merchant neither refunded nor reported a failed
        inspection in time, over delivered returns whose deadline was decided."""
        return ratio(self.refunded_by_silence, self.delivered_returns_decided)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duties_decided(self) -> int:
        return self.answers_decided + self.delivered_returns_decided

    @computed_field  # type: ignore[prop-decorator]
    @property
    def decided_by_silence(self) -> int:
        return self.agreed_by_silence + self.refunded_by_silence

    @computed_field  # type: ignore[prop-decorator]
    @property
    def silence_rate(self) -> float | None:
        """Requests agreed and returns refunded by silence, over answer and delivered-return
        deadlines decided: one figure for both duties, by which merchants are ranked."""
        return ratio(self.decided_by_silence, self.duties_decided)


class MerchantDuties(BaseModel):
    """The duties of the whole platform and of every merchant with a request or a delivered return
    in the period, by merchant id. The pages show only the worst merchants
    (reports/service/duty_table.py); the whole list lives here and in the JSON."""

    overall: DutyFigures = Field(default_factory=DutyFigures)
    by_merchant: dict[str, DutyFigures] = {}


_COUNTS = tuple(DutyFigures.model_fields)


def assemble_duties(rows: Sequence[Mapping[str, Any]]) -> MerchantDuties:
    """The `MerchantDuties` from the rows of `merchant_duties` (see report.sql)."""
    overall = DutyFigures()
    by_merchant: dict[str, DutyFigures] = {}
    for row in rows:
        figures = DutyFigures(**{name: row[name] for name in _COUNTS})
        if row["dimension"] == "all":
            overall = figures
        else:
            by_merchant[row["grp"]] = figures
    return MerchantDuties(overall=overall, by_merchant=dict(sorted(by_merchant.items())))
