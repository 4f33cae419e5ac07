"""A stand-in for a case of build 1.1, whose `note` update answered with the whole state."""

from temporalio import workflow

from cases.models import CaseState, Note


@workflow.defn(name="ElevenShapeCase")
class ElevenShapeCase:
    """Answers `note` with the whole state it was started with, as builds up to 1.1 did."""

    @workflow.init
    def __init__(self, state: CaseState) -> None:
        self._state = state
        self._done = False

    @workflow.run
    async def run(self, state: CaseState) -> CaseState:
        await workflow.wait_condition(lambda: self._done)
        return self._state

    @workflow.update
    async def note(self, data: Note) -> CaseState:
        self._done = True
        return self._state
