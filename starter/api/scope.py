"""Which cases a key reaches, and how it sees them (STANDARDS S14.3, S14.4).

A merchant's key reaches that merchant's cases only: it names them by its own case id (or by the
case key, `acme~8812`), and any other case answers exactly as a case that does not exist, before
anything is asked of the case. It sees the customer's personal data masked. A platform key names
any case by its key and sees the clear values; every such answer is logged, once, with the
fields it carried.
"""

from __future__ import annotations

import re

import asyncpg

from activities.merchants import MerchantRegistry
from cases.ids import CASE_REF_PATTERN, DEFAULT_MERCHANT, case_key, split_case_key
from cases.models import CaseIntake, CaseState
from cases.plans import DEFAULT_PLAN, fairness_weight
from cases.views.personal_data import masked, personal_fields
from starter.api.auth import Caller
from starter.api.problems import ApiProblem, FieldError

_LOG_READ = "INSERT INTO personal_data_reads (principal, key_id, case_id, fields, route) VALUES ($1, $2, $3, $4, $5)"


def not_found(ref: str) -> ApiProblem:
    """The answer for a case the caller cannot reach: the one a missing case gets."""
    return ApiProblem(404, f"case {ref} not found")


def case_key_for(who: Caller, ref: str) -> str:
    """The key of the case `ref` names for this caller, or 404 when it is out of the key's reach."""
    if not re.fullmatch(CASE_REF_PATTERN, ref):
        raise not_found(ref)
    merchant = who.merchant_id
    if merchant is None:
        return ref
    named, case_id = split_case_key(ref)
    if named not in (merchant, DEFAULT_MERCHANT) or (named == DEFAULT_MERCHANT and "~" in ref):
        raise not_found(ref)
    return case_key(case_id, merchant)


def intake_for(merchant: str | None, intake: CaseIntake) -> CaseIntake:
    """The intake as a key of `merchant` (None: the platform) may open it: a merchant's key opens
    cases of its own merchant."""
    if merchant is None:
        return intake
    if "merchant_id" in intake.model_fields_set and intake.merchant_id != merchant:
        raise ApiProblem(
            422,
            f"merchant_id: this key opens cases of {merchant} only",
            errors=[FieldError(field="merchant_id", message=f"must be {merchant} or left out")],
        )
    return intake.model_copy(update={"merchant_id": merchant})


async def require_merchant(pool: asyncpg.Pool, merchant_id: str) -> float:
    """The fairness weight of the intake's merchant's plan (cases/plans.py), or 422 naming the
    field when the merchant is not registered."""
    found = await MerchantRegistry(pool).get(merchant_id)
    if found is not None:
        return fairness_weight(found.plan)
    if merchant_id == DEFAULT_MERCHANT:  # a database that lost its default row still opens cases
        return fairness_weight(DEFAULT_PLAN)
    raise ApiProblem(
        422,
        f"merchant_id: {merchant_id} is not registered",
        errors=[FieldError(field="merchant_id", message="not a registered merchant")],
    )


async def shown(pool: asyncpg.Pool, who: Caller, state: CaseState, route: str) -> CaseState:
    """The state as the caller sees it: masked for a merchant, clear (and logged) for the platform."""
    if who.merchant_id is not None:
        return masked(state)
    fields = personal_fields(state.intake.customer)
    if fields:
        await pool.execute(_LOG_READ, who.principal, who.key.id, state.case_id, fields, route)
    return state
