"""Case ids and workflow ids: the one place that knows how a case is named.

A merchant names its cases; two merchants may use the same `case_id`. Inside the engine a case
is known by its key: the merchant's id and its own case id joined by `~`, a character no case id
or merchant id holds. The default merchant's cases keep their plain case id as their key, so a
single-merchant install names its cases as it always did. A case runs as workflow `case-{key}`.
"""

from __future__ import annotations

import re

WORKFLOW_TYPE = "AfterSalesCase"
_PREFIX = "case-"
DEFAULT_MERCHANT = "default"
_MERCHANT_ID = r"[a-z0-9][a-z0-9-]{0,31}"
_CASE_ID = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"
_SEPARATOR = "~"
MERCHANT_ID_PATTERN = f"^{_MERCHANT_ID}$"
CASE_ID_PATTERN = f"^{_CASE_ID}$"
# A case as a caller may name it: its case id, or its key (`merchant~case_id`).
CASE_REF_PATTERN = f"^(?:{_MERCHANT_ID}{_SEPARATOR})?{_CASE_ID}$"


def is_merchant_id(text: str) -> bool:
    return re.fullmatch(MERCHANT_ID_PATTERN, text) is not None


def case_key(case_id: str, merchant_id: str = DEFAULT_MERCHANT) -> str:
    """The engine's name for `merchant_id`'s case `case_id`."""
    return case_id if merchant_id == DEFAULT_MERCHANT else f"{merchant_id}{_SEPARATOR}{case_id}"


def split_case_key(key: str) -> tuple[str, str]:
    """(merchant id, the merchant's own case id) of a case key."""
    merchant_id, sep, case_id = key.partition(_SEPARATOR)
    return (merchant_id, case_id) if sep else (DEFAULT_MERCHANT, key)


def workflow_id_for(key: str) -> str:
    return f"{_PREFIX}{key}"


def case_id_from(workflow_id: str) -> str:
    """The case key a workflow id carries (a workflow id without the prefix is taken whole)."""
    return workflow_id.removeprefix(_PREFIX)


def cases_query(extra: str | None = None) -> str:
    """A visibility query for the engine's cases, narrowed by `extra` when given."""
    base = f"WorkflowType = '{WORKFLOW_TYPE}'"
    return f"{base} AND ({extra})" if extra else base
