"""The merchant registry in PostgreSQL, and the merchant a stored case belongs to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from activities.merchants import MerchantError, MerchantRegistry
from activities.record_input import StateDelta, record_case
from activities.store import PostgresProjection
from cases.core.machine import CaseMachine
from tests.support.factories import intake


def _merchant() -> str:
    return f"m-{uuid.uuid4().hex[:8]}"


async def test_the_default_merchant_is_always_registered(pool: Any) -> None:
    found = await MerchantRegistry(pool).get("default")
    assert found is not None and found.merchant_id == "default"


async def test_a_merchant_is_added_listed_shown_and_renamed(pool: Any) -> None:
    registry = MerchantRegistry(pool)
    merchant = _merchant()
    added = await registry.add(merchant, "  Acme 商城 ")
    assert (added.merchant_id, added.name) == (merchant, "Acme 商城")
    assert merchant in [m.merchant_id for m in await registry.listing()]
    assert (await registry.require(merchant)).name == "Acme 商城"
    assert (await registry.rename(merchant, "Acme")).name == "Acme"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda r, m: r.add("Bad Id", "x"), "merchant_id"),
        (lambda r, m: r.add(m, "   "), "name"),
        (lambda r, m: r.add(m, "x" * 201), "name"),
        (lambda r, m: r.require(m), "merchant_id"),
        (lambda r, m: r.require("no~such"), "merchant_id"),
        (lambda r, m: r.rename(m, "x"), "merchant_id"),
    ],
)
async def test_a_bad_registry_command_names_the_field(pool: Any, call: Any, field: str) -> None:
    with pytest.raises(MerchantError, match=f"^{field}: "):
        await call(MerchantRegistry(pool), _merchant())


async def test_an_id_already_taken_is_refused_and_keeps_its_name(pool: Any) -> None:
    registry = MerchantRegistry(pool)
    merchant = _merchant()
    await registry.add(merchant, "First")
    with pytest.raises(MerchantError, match="already registered"):
        await registry.add(merchant, "Second")
    assert (await registry.require(merchant)).name == "First"


async def test_a_stored_case_belongs_to_the_merchant_its_key_names(pool: Any, policy: Any) -> None:
    projection = PostgresProjection(pool)
    case_id = f"t{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    for merchant in ("acme", "default"):
        data = intake(case_id=case_id, merchant_id=merchant)
        machine = CaseMachine.open(data.key, data, policy.snapshot(now), now)
        await projection.write(record_case(machine.state, machine.events, delta=StateDelta()))
    rows = await pool.fetch(
        "SELECT case_id, merchant_id FROM cases WHERE case_id = ANY($1::text[]) ORDER BY case_id",
        [case_id, f"acme~{case_id}"],
    )
    assert [(r["case_id"], r["merchant_id"]) for r in rows] == sorted(
        [(case_id, "default"), (f"acme~{case_id}", "acme")]
    )
