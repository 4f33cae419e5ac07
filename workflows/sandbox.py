"""The workflow sandbox every worker and every replay uses, so both run the same code paths."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Modules that are deterministic or only used outside workflow code: importing them once,
# outside the sandbox, keeps each workflow run from re-importing them.
PASSTHROUGH = (
    "pydantic",
    "pydantic_core",
    "zoneinfo",
    "cases",
    "activities",
    # Everything the workflow module imports from its own package is pure; only the workflow
    # module itself needs a fresh import per run.
    "workflows.run_input",
    "workflows.details",
    "workflows.retry_policies",
    "workflows.search_attributes",
    "workflows.visibility",
    "workflows.action_updates",
    "workflows.bookings",
    "workflows.saga",
    "workflows.codec",
    "workflows.converter",
    "asyncpg",
    "structlog",
    "holidays",
    "httpx",
    "cryptography",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )
