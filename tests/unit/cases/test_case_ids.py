"""How a case is named: merchants' case ids never meet, and the default merchant's keep their name."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from cases.ids import (
    DEFAULT_MERCHANT,
    MERCHANT_ID_PATTERN,
    case_id_from,
    case_key,
    split_case_key,
    workflow_id_for,
)
from tests.support.factories import intake


def test_the_default_merchant_keeps_the_plain_case_id() -> None:
    assert case_key("8812") == "8812"
    assert case_key("8812", DEFAULT_MERCHANT) == "8812"
    assert split_case_key("8812") == (DEFAULT_MERCHANT, "8812")
    assert workflow_id_for(case_key("8812")) == "case-8812"


@pytest.mark.parametrize("merchant", ["acme", "shop-2", "9"])
@pytest.mark.parametrize("case_id", ["8812", "A.b_c-9", "x" * 64])
def test_a_merchant_case_key_splits_back_into_its_parts(merchant: str, case_id: str) -> None:
    key = case_key(case_id, merchant)
    assert split_case_key(key) == (merchant, case_id)
    assert case_id_from(workflow_id_for(key)) == key


def test_two_merchants_with_one_case_id_get_two_keys_and_two_workflows() -> None:
    keys = {case_key("8812", m) for m in ("acme", "globex", DEFAULT_MERCHANT)}
    assert len(keys) == 3
    assert len({workflow_id_for(k) for k in keys}) == 3


def test_the_intake_key_follows_its_merchant() -> None:
    assert intake(case_id="8812").key == "8812"
    assert intake(case_id="8812", merchant_id="acme").key == "acme~8812"
    assert intake(case_id="8812").merchant_id == DEFAULT_MERCHANT


@pytest.mark.parametrize("bad", ["Acme", "", "-acme", "acme~x", "a" * 33, "ac me", "商家"])
def test_a_bad_merchant_id_is_refused_naming_the_field(bad: str) -> None:
    assert not re.fullmatch(MERCHANT_ID_PATTERN, bad)
    with pytest.raises(ValidationError) as err:
        intake(merchant_id=bad)
    assert err.value.errors()[0]["loc"] == ("merchant_id",)
