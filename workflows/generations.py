"""Which rules a run follows, decided by patches in its first task so older histories replay.

- `LEAN`: the business-minimal record path (one local activity per task).
- `FULFILMENT`: return and repair legs and the next-reply clock (`CaseState.generation` 2).
- `ROUTING`: flags read from the description, and dispatch through the roster (generation 3).

Each patch is asked before the first await: a patch decided after the policy's local activity
would not line up with its marker on replay. A fresh case asks for the newest first; a history
recorded before it has no marker there, so the older question decides. A continued run takes
its generation from the carried state and asks its own patch again, so its TemporalChangeVersion
still tells the generations apart in visibility.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.case_input import CaseInput

LEAN = "lean-record-v1"
FULFILMENT = "fulfilment-v1"
ROUTING = "routing-v1"

_PATCH_OF = {2: FULFILMENT, 3: ROUTING}


def decide(intake: CaseInput) -> tuple[bool, int]:
    """(lean path, generation) for this run."""
    lean = workflow.patched(LEAN)
    resume = intake.resume
    if resume is None or resume.state is None:
        if workflow.patched(ROUTING):
            return lean, 3
        return lean, 2 if workflow.patched(FULFILMENT) else 1
    generation = resume.state.generation
    if generation in _PATCH_OF:
        workflow.patched(_PATCH_OF[generation])
    return lean, generation
