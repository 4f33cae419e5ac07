"""Record the golden histories that CI replays: one per main path of a case.

Run deliberately, after a change to the workflow, which ships as a new deployment version:

    make histories        # or: python -m tests.support.golden

It runs each scenario on the time-skipping server against an embedded PostgreSQL and writes
`tests/histories/<version>/<scenario>.json` in the format the Web UI downloads, replacing that
release's files only. The folders of earlier releases stay while their cases are still served:
CI replays every one of them on this code (docs/DEPLOY.md says when a folder may go). What a case
carries across continue-as-new is kept the same way: the first recording of each release keeps
it in `tests/carried/<version>.json`, and no later recording replaces it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.db import create_pool
from activities.roster.postgres import PostgresRoster
from activities.schema import migrate
from cases.policy.snapshot import load_policy
from cases.routing.models import Presence
from devstack.postgres import EmbeddedPostgres
from starter.client import CaseClient, CaseError
from tests.conftest import binary, case_worker, codec_converter, register_search_attributes
from tests.support.clock import skip
from tests.support.factories import intake
from workflows.run_input import CaseInput, CaseRun

ROOT = Path(__file__).resolve().parents[2]
RELEASE = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
# One folder per release still served; this release's is the one a recording replaces.
RELEASES = Path(__file__).parents[1] / "histories"
HISTORIES = RELEASES / RELEASE
CARRIED = Path(__file__).parents[1] / "carried"
# The roster every scenario runs against: one team, two agents of two seats each.
TEAM = "customer_service"
AGENTS = ("agent-a", "agent-b")

Scenario = Callable[[WorkflowEnvironment, CaseClient], Awaitable[list[str]]]


async def _finish(env: WorkflowEnvironment, client: CaseClient, case_id: str) -> None:
    """Drive a resolved case through confirmation, rating and any follow-up to its end."""
    await skip(env, timedelta(seconds=1))
    await client.act(case_id, "confirm", {})
    rated = await client.act(case_id, "rate", {"score": 5})
    if rated.status.value == "follow_up":
        await skip(env, timedelta(seconds=1))
        await client.act(case_id, "follow_up_result", {"actor": "agent-9", "outcome": "satisfied"})
    await client.handle(case_id).result()


async def general(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    # This id is outside the 15 % follow-up sample, so the case closes after the rating.
    case = intake(case_id="golden-general-2")
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-1", "type": "explanation"})
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def merchant_general(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    """The general path of a merchant's case: named by its key, `acme~golden-general-2`."""
    case = intake(case_id="golden-general-2", merchant_id="acme")
    await client.open(case)
    await client.act(case.key, "acknowledge", {"actor": "agent-1"})
    await client.act(case.key, "propose_resolution", {"actor": "agent-1", "type": "explanation"})
    await _finish(env, client, case.key)
    return [case.key]


async def complex_follow_up(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    case = intake(case_id="golden-complex", category="product_quality", flags={"cross_department": True})
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-2"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-2", "type": "repair"})
    await skip(env, timedelta(days=1))
    await client.act(case.case_id, "repair_result", {"actor": "tech-1", "result": "fixed", "repair_record": "RR-7"})
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def urgent_approval(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    case = intake(case_id="golden-urgent", category="safety", flags={"safety_risk": True},
                  customer_tier="vip", order_amount="899.00")
    await client.open(case)
    await skip(env, timedelta(minutes=20))  # the VIP first response breaches and escalates
    await client.act(case.case_id, "acknowledge", {"actor": "agent-3"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-3", "type": "refund", "amount": "899"})
    await skip(env, timedelta(hours=5))  # the approval clock breaches too
    await client.act(case.case_id, "approve", {"actor": "supervisor-1", "role": "supervisor"})
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def approval_rejected_then_saga(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    case = intake(case_id="golden-review", order_amount="1500.00")
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-4"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-4", "type": "refund", "amount": "1500"})
    rejection = {"actor": "supervisor-2", "role": "supervisor", "reason": "partial refund"}
    await client.act(case.case_id, "reject", rejection)
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-4", "type": "exchange", "amount": "200"})
    await _return_and_inspect(env, client, case.case_id, "passed")
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def _return_and_inspect(env: WorkflowEnvironment, client: CaseClient, case_id: str, result: str) -> None:
    await skip(env, timedelta(days=6))  # past the reminder at 80 % of the 7-day window
    await client.act(case_id, "return_shipped", {"carrier": "SF Express", "tracking_number": "SF1029384756"})
    await skip(env, timedelta(days=1))
    await client.act(case_id, "return_received", {"actor": "warehouse-sh"})
    notes = "as new" if result == "passed" else "liquid damage inside"
    await client.act(case_id, "inspection_result", {"result": result, "notes": notes, "evidence": ["IMG-1"]})


async def return_refund(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    case = intake(case_id="golden-return", order_amount="2000.00")
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-7"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-7", "type": "return_refund", "amount": "299"})
    await _return_and_inspect(env, client, case.case_id, "passed")
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def return_lapsed(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    case = intake(case_id="golden-lapse", order_amount="2000.00")
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-7"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-7", "type": "return_refund", "amount": "299"})
    await skip(env, timedelta(days=7, seconds=1))
    await client.handle(case.case_id).result()
    return [case.case_id]


async def inspection_failed_silent_pass(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    # A failed inspection, then an exchange whose inspection the warehouse never reports.
    case = intake(case_id="golden-inspection", order_amount="2000.00")
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-8"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-8", "type": "return_refund", "amount": "299"})
    await _return_and_inspect(env, client, case.case_id, "failed")
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-8", "type": "exchange", "amount": "0"})
    await client.act(case.case_id, "return_received", {"actor": "warehouse-sh"})
    await skip(env, timedelta(hours=72, seconds=1))  # silence past the window counts as a pass
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def repair_not_fixable_then_fixed(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    case = intake(case_id="golden-repair", category="product_quality", order_amount="2000.00")
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-9"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-9", "type": "repair"})
    await skip(env, timedelta(days=1))
    await client.act(case.case_id, "repair_result", {"actor": "tech-1", "result": "not_fixable", "note": "board"})
    mail_in = {"actor": "agent-9", "type": "repair", "repair_mode": "mail_in"}
    await client.act(case.case_id, "propose_resolution", mail_in)
    await skip(env, timedelta(days=1))
    await client.act(case.case_id, "repair_result", {"actor": "tech-2", "result": "fixed", "repair_record": "RR-42"})
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def conversation(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    case = intake(case_id="golden-conversation", order_amount="2000.00")
    await client.open(case)
    await client.act(case.case_id, "customer_message", {"text": "Is anyone there?"})
    await skip(env, timedelta(minutes=30))
    await client.act(case.case_id, "agent_reply", {"actor": "agent-10", "text": "Yes, looking now."})
    await client.act(case.case_id, "customer_message", {"text": "Thanks. Any news?"})
    await client.act(case.case_id, "request_info", {"actor": "agent-10", "question": "Order photo?"})
    await skip(env, timedelta(hours=3))
    await client.act(case.case_id, "customer_reply", {"text": "Attached."})
    await skip(env, timedelta(hours=25))  # the next reply breaches and escalates
    await client.act(case.case_id, "agent_reply", {"actor": "agent-10", "text": "Sorry for the wait."})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-10", "type": "explanation"})
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def dispute_reopen(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    case = intake(case_id="golden-reopen", category="logistics")
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-5"})
    await client.act(case.case_id, "request_info", {"actor": "agent-5", "question": "tracking no.?"})
    await skip(env, timedelta(hours=30))
    await client.act(case.case_id, "customer_reply", {"text": "SF123"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-5", "type": "compensation", "amount": "30"})
    await skip(env, timedelta(seconds=1))
    await client.act(case.case_id, "dispute", {"reason": "still no parcel"})
    await client.act(case.case_id, "acknowledge", {"actor": "agent-5"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-5", "type": "refund", "amount": "100"})
    await skip(env, timedelta(days=4))  # silence is acceptance
    await client.act(case.case_id, "rate", {"score": 2, "comment": "slow"})
    await skip(env, timedelta(seconds=1))
    await client.act(case.case_id, "follow_up_result", {"outcome": "recurred", "note": "again"})
    await client.act(case.case_id, "withdraw", {"reason": "bought elsewhere"})
    await client.handle(case.case_id).result()
    return [case.case_id]


async def continue_as_new(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    case = intake(case_id="golden-can")
    opened = await client.open(case, run=CaseRun(history_limit=60))
    await client.act(case.case_id, "acknowledge", {"actor": "agent-6"})
    for i in range(12):
        await client.act(case.case_id, "note", {"actor": "agent-6", "text": f"note {i}"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-6", "type": "explanation"})
    await _finish(env, client, case.case_id)
    first = client.client.get_workflow_handle(opened.workflow_id, run_id=opened.run_id)
    await _write("continue_as_new_run1", await first.fetch_history())
    await _keep_carried(client, await client.handle(case.case_id).fetch_history())
    return [case.case_id]


async def _keep_carried(client: CaseClient, continued: WorkflowHistory) -> None:
    """This release's carried state, decoded, unless the release has one already."""
    kept = CARRIED / f"{RELEASE}.json"
    if kept.exists():
        return
    started = continued.events[0].workflow_execution_started_event_attributes
    [carried] = await client.client.data_converter.decode(started.input.payloads, [CaseInput])
    CARRIED.mkdir(exist_ok=True)
    kept.write_text(carried.model_dump_json(indent=1) + "\n")


async def routing(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    """Four cases fill the four seats, a fifth (urgent from its own words) waits; an agent who
    lets the acceptance window pass is passed over; a withdrawal frees a seat for the queue."""
    ids = [f"golden-route-{n}" for n in range(1, 5)]
    for case_id in ids:
        await client.open(intake(case_id=case_id))
    urgent = intake(case_id="golden-route-urgent", description="充電寶冒煙了，外殼發燙")
    await client.open(urgent)
    for case_id in ids[1:]:
        state = await client.state(case_id)
        await client.act(case_id, "acknowledge", {"actor": state.handler or "agent-x"})
    await skip(env, timedelta(hours=2, seconds=1))  # the first case's agent never accepted
    await client.act(ids[1], "withdraw", {"reason": "solved by phone"})
    await skip(env, timedelta(seconds=1))
    for case_id in [ids[0], ids[2], ids[3], urgent.case_id]:
        await client.act(case_id, "withdraw", {"reason": "recorded"})
        await client.handle(case_id).result()
    return [ids[0], urgent.case_id]


async def _asking(
    env: WorkflowEnvironment, case_id: str, remedy: str, reason: str, days_ago: int = 1, **facts: Any
) -> Any:
    """A case opened with the buyer's request, on an order signed for `days_ago` days before."""
    signed = await env.get_current_time() - timedelta(days=days_ago)
    order = {"signed_at": signed.isoformat()} | facts
    return intake(case_id=case_id, order_amount="299.00", request={"remedy": remedy, "reason": reason, "order": order})


async def request_silence_refund(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    """A refund-only request the merchant never answers: its silence refunds."""
    case = await _asking(env, "golden-silence-refund", "refund_only", "not_received")
    await client.open(case)
    await skip(env, timedelta(hours=48, seconds=1))
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def request_return_silences(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    """A no-reason return: the merchant's rejection is refused, its silence authorises the return,
    and its silence after the carrier delivered it refunds."""
    case = await _asking(env, "golden-silence-return", "return_refund", "no_reason")
    await client.open(case)
    try:
        await client.act(case.case_id, "answer_request", {"actor": "merchant-1", "decision": "reject", "reason": "no"})
    except CaseError:
        pass  # refused: the law entitles the buyer to it
    else:
        raise AssertionError("the rejection of an eligible request was accepted")
    await skip(env, timedelta(hours=48, seconds=1))
    await client.act(case.case_id, "return_shipped", {"carrier": "SF Express", "tracking_number": "SF1029384756"})
    await client.act(case.case_id, "return_delivered", {"actor": "sf-express"})
    await skip(env, timedelta(days=7, seconds=1))
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def request_rejected(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    """A return of fresh food: the law does not entitle it, and the merchant declines."""
    case = await _asking(env, "golden-request-rejected", "return_refund", "no_reason", goods_class="perishable")
    await client.open(case)
    await client.act(case.case_id, "answer_request", {"actor": "merchant-1", "decision": "reject",
                                                      "reason": "fresh food cannot be returned"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-1", "type": "explanation"})
    await _finish(env, client, case.case_id)
    return [case.case_id]


async def three_guarantees_after_repairs(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    """Two repairs of the same item in two cases, then a third claim: an exchange is owed."""
    facts = {"three_guarantees": True, "warranty_ends": "2099-12-31", "sku": "SKU-G1", "serial": "SN-G1"}
    ids = []
    for n in (1, 2, 3):
        remedy = "repair" if n < 3 else "exchange"
        # Past the 15 days: only the warranty, and the two repairs, give a remedy.
        case = await _asking(env, f"golden-item-{n}", remedy, "quality_fault", days_ago=60, **facts)
        await client.open(case)
        await client.act(case.case_id, "answer_request", {"actor": "merchant-1", "decision": "agree"})
        if n < 3:
            await skip(env, timedelta(hours=25))  # the visit is booked for 24 h after approval
            await client.act(case.case_id, "repair_result",
                             {"actor": "technician-1", "result": "fixed", "repair_record": f"RR-{n}"})
        else:
            shipped = {"carrier": "SF Express", "tracking_number": "SF555000111"}
            await client.act(case.case_id, "return_shipped", shipped)
            await client.act(case.case_id, "return_delivered", {"actor": "sf-express"})
            await client.act(case.case_id, "return_received", {"actor": "warehouse-sh"})
            await client.act(case.case_id, "inspection_result",
                             {"actor": "inspector-1", "result": "passed", "evidence": ["IMG-9"]})
        await _finish(env, client, case.case_id)
        ids.append(case.case_id)
    return [ids[2], ids[0]]


async def _rejected(env: WorkflowEnvironment, client: CaseClient, case_id: str, amount: str) -> str:
    """A return of fresh food the merchant declines: the buyer asks the platform in."""
    signed = await env.get_current_time() - timedelta(days=1)
    order = {"signed_at": signed.isoformat(), "goods_class": "perishable"}
    case = intake(case_id=case_id, order_amount=amount,
                  request={"remedy": "return_refund", "reason": "no_reason", "order": order})
    await client.open(case)
    await client.act(case_id, "answer_request", {"actor": "merchant-1", "decision": "reject", "reason": "fresh food"})
    await client.act(case_id, "ask_intervention", {"reason": "it arrived rotten", "references": ["IMG-1"]})
    return case_id


ARBITER = {"role": "arbiter"}


async def intervention_platform_pays(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    """The merchant stays silent twice: the arbiter rules on the buyer's evidence, the platform pays
    first, and the merchant's late refund settles what it owes."""
    case_id = await _rejected(env, client, "golden-intervention-pays", "299.00")
    await skip(env, timedelta(hours=24, seconds=1))
    await client.act(case_id, "rule", {"actor": "arbiter-1", "decision": "refund", "amount": "199",
                                       "reason": "rotten on arrival", **ARBITER})
    await skip(env, timedelta(hours=24, seconds=1))
    await client.act(case_id, "carry_out_ruling", {"actor": "merchant-1", "note": "paid late"})
    await _finish(env, client, case_id)
    return [case_id]


async def intervention_appeal(env: WorkflowEnvironment, client: CaseClient) -> list[str]:
    """More evidence asked and given, a large ruling confirmed by a second arbiter, and the
    merchant's appeal heard by a third, whose ruling is final."""
    case_id = await _rejected(env, client, "golden-intervention-appeal", "3000.00")
    await client.act(case_id, "submit_evidence", {"actor": "merchant-1", "party": "merchant", "text": "left fresh"})
    await client.act(case_id, "request_evidence", {"actor": "arbiter-1", "party": "buyer",
                                                   "question": "A photo of the box?", **ARBITER})
    await client.act(case_id, "submit_evidence", {"party": "buyer", "references": ["IMG-2"]})
    await client.act(case_id, "rule", {"actor": "arbiter-1", "decision": "refund", "amount": "2500",
                                       "reason": "rotten on arrival", **ARBITER})
    await client.act(case_id, "confirm_ruling", {"actor": "arbiter-2", **ARBITER})
    await client.act(case_id, "appeal", {"actor": "merchant-1", "party": "merchant", "reason": "the courier was late"})
    await client.act(case_id, "rule", {"actor": "arbiter-3", "decision": "reject", "reason": "late, not rotten",
                                       **ARBITER})
    await client.act(case_id, "propose_resolution", {"actor": "agent-1", "type": "explanation"})
    await _finish(env, client, case_id)
    return [case_id]


SCENARIOS: dict[str, Scenario] = {
    "general": general,
    "merchant_general": merchant_general,
    "complex_follow_up": complex_follow_up,
    "urgent_approval": urgent_approval,
    "approval_rejected_then_exchange": approval_rejected_then_saga,
    "dispute_reopen": dispute_reopen,
    "continue_as_new": continue_as_new,
    "return_refund": return_refund,
    "return_lapsed": return_lapsed,
    "inspection_failed_silent_pass": inspection_failed_silent_pass,
    "repair_not_fixable_then_fixed": repair_not_fixable_then_fixed,
    "conversation": conversation,
    "routing": routing,
    "request_silence_refund": request_silence_refund,
    "request_return_silences": request_return_silences,
    "request_rejected": request_rejected,
    "three_guarantees_after_repairs": three_guarantees_after_repairs,
    "intervention_platform_pays": intervention_platform_pays,
    "intervention_appeal": intervention_appeal,
}


async def _write(name: str, history: WorkflowHistory) -> None:
    data: dict[str, Any] = json.loads(history.to_json())
    data = {"workflowId": history.workflow_id, **data}
    (HISTORIES / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")


async def record_all() -> list[Path]:
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for old in HISTORIES.glob("*.json"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        dsn = server.start()
        try:
            await migrate(dsn)
            pool = await create_pool(dsn)
            env = await WorkflowEnvironment.start_time_skipping(
                data_converter=codec_converter(),
                test_server_existing_path=binary("temporal-test-server"),
            )
            await register_search_attributes(env.client)
            policy = load_policy(None)
            roster = PostgresRoster(pool, policy.calendar)
            await roster.add_team(TEAM, [], None, "lead-cs")
            for agent in AGENTS:
                await roster.add_agent(agent, TEAM, [], 2, Presence.AVAILABLE, datetime.now(UTC))
            async with env:
                async with case_worker(env.client, pool, policy) as task_queue:
                    client = CaseClient(env.client, task_queue)
                    for name, scenario in SCENARIOS.items():
                        for n, case_id in enumerate(await scenario(env, client)):
                            history = await client.handle(case_id).fetch_history()
                            await _write(name + (f"_{n + 1}" if n else ""), history)
            await pool.close()
        finally:
            server.stop()
    return sorted(HISTORIES.glob("*.json"))


if __name__ == "__main__":
    for path in asyncio.run(record_all()):
        print(path)
