"""Case ids and workflow ids: the one place that knows a case runs as workflow `case-{case_id}`."""

from __future__ import annotations

WORKFLOW_TYPE = "AfterSalesCase"
_PREFIX = "case-"


def workflow_id_for(case_id: str) -> str:
    return f"{_PREFIX}{case_id}"


def case_id_from(workflow_id: str) -> str:
    """The case id a workflow id carries (a workflow id without the prefix is taken whole)."""
    return workflow_id.removeprefix(_PREFIX)


def cases_query(extra: str | None = None) -> str:
    """A visibility query for the engine's cases, narrowed by `extra` when given."""
    base = f"WorkflowType = '{WORKFLOW_TYPE}'"
    return f"{base} AND ({extra})" if extra else base
