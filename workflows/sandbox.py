"""The workflow sandbox every worker and every replay uses, so both run the same code paths."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Modules that are deterministic or only used outside workflow code: importing them once,
# outside the sandbox, keeps each workflow run from re-importing them. The workflow modules
# themselves are among them: re-importing `case_workflow` per run (its class and an update method
# per action) was half of what a cached case held in memory, and a tenth of a worker's CPU.
# They keep no module state. What the sandbox no longer sees in them, a test checks by reading
# the code: nothing in the workflow's import closure reads a clock, a random source or the
# environment (tests/unit/workflows/test_determinism_guard.py).
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
    "workflows.case_workflow",
    "workflows.webhook_delivery",
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
