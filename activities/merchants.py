"""The merchant registry in PostgreSQL: the merchants whose cases the platform runs.

Platform staff manage it (`aftersales merchants …`). The default merchant is always there: a
single-merchant install's cases belong to it.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import BaseModel

from cases.ids import DEFAULT_MERCHANT, is_merchant_id
from cases.plans import DEFAULT_PLAN, Plan
from cases.policy.merchant import merged, parse_overlay
from cases.policy.snapshot import Policy

_NAME_LIMIT = 200


class MerchantError(ValueError):
    """A registry command that cannot be carried out; the message names the field."""


class Merchant(BaseModel):
    merchant_id: str
    name: str
    plan: Plan = DEFAULT_PLAN
    created_at: datetime


def check_merchant_id(merchant_id: str) -> str:
    if not is_merchant_id(merchant_id):
        raise MerchantError(
            f"merchant_id: {merchant_id!r} must be 1-32 lower-case letters, digits or '-', "
            "starting with a letter or digit"
        )
    return merchant_id


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= _NAME_LIMIT:
        raise MerchantError(f"name: must be 1-{_NAME_LIMIT} characters")
    return name


_COLUMNS = "merchant_id, name, plan, created_at"
_RETURNING = f"RETURNING {_COLUMNS}"


def _merchant(row: asyncpg.Record | None, missing: str) -> Merchant:
    """The merchant the statement returned, or MerchantError saying why it returned none."""
    if row is None:
        raise MerchantError(missing)
    return Merchant(**dict(row))


class MerchantRegistry:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, merchant_id: str, name: str, plan: Plan = DEFAULT_PLAN) -> Merchant:
        """Register a merchant; an id already taken is refused, never renamed."""
        check_merchant_id(merchant_id)
        row = await self._pool.fetchrow(
            "INSERT INTO merchants (merchant_id, name, plan) VALUES ($1, $2, $3)"
            f" ON CONFLICT (merchant_id) DO NOTHING {_RETURNING}",
            merchant_id,
            _check_name(name),
            Plan(plan).value,
        )
        return _merchant(row, f"merchant_id: {merchant_id!r} is already registered")

    async def get(self, merchant_id: str) -> Merchant | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM merchants WHERE merchant_id = $1", merchant_id
        )
        return Merchant(**dict(row)) if row is not None else None

    async def rename(self, merchant_id: str, name: str) -> Merchant:
        return await self.change(merchant_id, name=name)

    async def set_plan(self, merchant_id: str, plan: Plan) -> Merchant:
        """The merchant's new plan; the cases it opens from now on carry its weight."""
        return await self.change(merchant_id, plan=plan)

    async def change(self, merchant_id: str, *, name: str | None = None, plan: Plan | None = None) -> Merchant:
        """A new name, a new plan or both, in one statement."""
        row = await self._pool.fetchrow(
            "UPDATE merchants SET name = COALESCE($2, name), plan = COALESCE($3, plan)"
            f" WHERE merchant_id = $1 {_RETURNING}",
            merchant_id,
            _check_name(name) if name is not None else None,
            Plan(plan).value if plan is not None else None,
        )
        return _merchant(row, f"merchant_id: {merchant_id!r} is not registered")

    async def listing(self) -> list[Merchant]:
        rows = await self._pool.fetch(f"SELECT {_COLUMNS} FROM merchants ORDER BY merchant_id")
        return [Merchant(**dict(r)) for r in rows]

    async def policy_text(self, merchant_id: str) -> str | None:
        """The merchant's own policy file, or None when it keeps the platform's."""
        text: str | None = await self._pool.fetchval(
            "SELECT policy_toml FROM merchants WHERE merchant_id = $1", merchant_id
        )
        return text

    async def set_policy(self, merchant_id: str, text: str | None, platform: Policy) -> None:
        """Keep the merchant's policy file (None: back to the platform's) once it is laid over
        the platform's without a looser value; PolicyError names the first key that is."""
        if text is not None:
            merged(platform, parse_overlay(text))
        found = await self._pool.fetchval(
            "UPDATE merchants SET policy_toml = $2 WHERE merchant_id = $1 RETURNING 1", merchant_id, text
        )
        if found is None:
            raise MerchantError(f"merchant_id: {merchant_id!r} is not registered")

    async def require(self, merchant_id: str) -> Merchant:
        """The merchant, or an error naming the field when it is not registered."""
        found = await self.get(check_merchant_id(merchant_id))
        if found is None:
            raise MerchantError(
                f"merchant_id: {merchant_id!r} is not registered; add it with `aftersales merchants add`"
            )
        return found


__all__ = [
    "DEFAULT_MERCHANT", "DEFAULT_PLAN", "Merchant", "MerchantError", "MerchantRegistry", "Plan", "check_merchant_id",
]
