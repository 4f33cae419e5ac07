"""Two merchants may use the same case id: each gets a case of its own, named by its merchant."""

from __future__ import annotations

from starter.client import CaseClient
from tests.conftest import memory_worker
from tests.support.factories import intake
from workflows import search_attributes as sa
from workflows.case_workflow import AfterSalesCase
from workflows.run_input import CaseInput


async def test_two_merchants_open_the_same_case_id_without_meeting(env, policy) -> None:  # type: ignore[no-untyped-def]
    async with memory_worker(env.client, policy) as task_queue:
        cases = CaseClient(env.client, task_queue, policy)
        acme = await cases.open(intake(case_id="8812", merchant_id="acme", order_id="A-1"))
        globex = await cases.open(intake(case_id="8812", merchant_id="globex", order_id="G-1"))
        plain = await cases.open(intake(case_id="8812", order_id="D-1"))
        assert (acme.case_id, globex.case_id, plain.case_id) == ("acme~8812", "globex~8812", "8812")
        assert acme.created and globex.created and plain.created
        assert len({acme.workflow_id, globex.workflow_id, plain.workflow_id}) == 3

        await cases.act("acme~8812", "acknowledge", {"actor": "agent-1"})
        acme_state = await cases.state("acme~8812")
        globex_state = await cases.state("globex~8812")
        assert acme_state.status.value == "acknowledged"
        assert globex_state.status.value != "acknowledged"
        # The merchant's own case id stays the one it gave; the key names the merchant too.
        assert (acme_state.intake.case_id, acme_state.intake.merchant_id) == ("8812", "acme")
        assert (globex_state.intake.order_id, globex_state.intake.merchant_id) == ("G-1", "globex")
        assert acme_state.workflow_id == "case-acme~8812"

        given = (await cases.handle("acme~8812").describe()).typed_search_attributes
        assert given.get(sa.MERCHANT_ID) == "acme"
        default = (await cases.handle("8812").describe()).typed_search_attributes
        assert default.get(sa.MERCHANT_ID) == "default"
        for key in ("acme~8812", "globex~8812", "8812"):
            await cases.handle(key).terminate("test over")


async def test_a_workflow_started_without_a_case_id_takes_merchant_and_case_from_its_id(env, policy) -> None:  # type: ignore[no-untyped-def]
    async with memory_worker(env.client, policy) as task_queue:
        data = intake().model_dump(exclude={"case_id"})
        await env.client.start_workflow(
            AfterSalesCase.run, CaseInput.model_validate(data), id="case-acme~raw-1", task_queue=task_queue
        )
        cases = CaseClient(env.client, task_queue, policy)
        state = await cases.wait_for_state("acme~raw-1")
        assert state.case_id == "acme~raw-1"
        assert (state.intake.merchant_id, state.intake.case_id) == ("acme", "raw-1")
        await cases.handle("acme~raw-1").terminate("test over")
