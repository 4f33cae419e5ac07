"""A workflow change that cannot replay the histories of the code before it: a timer inserted
before the policy is captured. The replay tests must catch it; a versioned deployment must run
it beside the old build without either touching the other's cases."""

from datetime import timedelta

from temporalio import workflow

from cases.models import CaseState
from workflows.case_workflow import AfterSalesCase
from workflows.run_input import CaseInput


@workflow.defn(name="AfterSalesCase")
class ChangedCase(AfterSalesCase):
    @workflow.run
    async def run(self, intake: CaseInput) -> CaseState:
        await workflow.sleep(timedelta(milliseconds=1))
        return await super().run(intake)
