"""A workflow change that cannot replay the histories of the code before it: a timer inserted
before the policy is captured. The replay tests must catch it; a versioned deployment must run
it beside the old build without either touching the other's cases. `PatchedCase` is the same
change behind `workflow.patched`, as a hotfix to a pinned build would carry it."""

from datetime import timedelta

from temporalio import workflow

from cases.receipt import CaseReceipt
from workflows.case_workflow import AfterSalesCase
from workflows.run_input import CaseInput


@workflow.defn(name="AfterSalesCase")
class ChangedCase(AfterSalesCase):
    @workflow.run
    async def run(self, intake: CaseInput) -> CaseReceipt:
        await workflow.sleep(timedelta(milliseconds=1))
        return await super().run(intake)


@workflow.defn(name="AfterSalesCase")
class PatchedCase(AfterSalesCase):
    """The same edit as a hotfix to a build that cases are pinned to (docs/DEPLOY.md): the only
    place a patch belongs. The histories of that build take the old path."""

    @workflow.run
    async def run(self, intake: CaseInput) -> CaseReceipt:
        if workflow.patched("timer-before-policy"):
            await workflow.sleep(timedelta(seconds=1))
        return await super().run(intake)
