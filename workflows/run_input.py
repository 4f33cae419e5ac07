"""The AfterSalesCase workflow's input model, and what a continued run carries over.

Kept out of the workflow module on purpose: the sandbox imports the workflow module afresh for
every run, and a pydantic model class is costly to build, so models live in modules that are
imported once and passed through.
"""

from pydantic import BaseModel

from cases.models import CaseIntake, CaseState
from cases.policy.snapshot import PolicySnapshot

DEFAULT_HISTORY_LIMIT = 4000


class CaseRun(BaseModel):
    """What a continued run carries over; a fresh case needs none of it."""

    state: CaseState | None = None
    policy: PolicySnapshot | None = None
    history_limit: int = DEFAULT_HISTORY_LIMIT


class CaseInput(CaseIntake):
    """The workflow's one input: a plain `CaseIntake` from any client, plus `resume`, which only
    continue-as-new (and tests tuning the history limit) ever set."""

    resume: CaseRun | None = None
