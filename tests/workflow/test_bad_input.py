"""Bad input, property-based: whatever arrives, the engine answers with a clear refusal or a working
result, never a crash, a failed workflow or a wedged case.

- Intakes (random JSON objects and mutations of a valid one): `CaseClient.open` either opens a
  case that works (its next action is recorded) or raises `CaseError` naming a field.
- Update payloads, sent raw to running cases in every status, past the client's validation: each
  is rejected (and the state is unchanged) or applied; the workflow never fails or hangs, a query
  still answers and a valid action still works afterwards.
- Policy files (random TOML documents, structural and textual mutations of the shipped default):
  `load_policy` returns a Policy that can be resolved for a case, or raises `PolicyError` with a
  one-line message.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import tempfile
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)

from cases.actions.registry import ACTION_MODELS
from cases.models import CaseIntake, CaseState, Status
from cases.policy.snapshot import Policy, PolicyError, load_policy
from cases.receipt import CaseReceipt
from starter.client import CaseClient, CaseError
from tests.conftest import memory_worker
from tests.support.factories import intake

T = TypeVar("T")
# No example database: runs are reproducible from the pinned examples and the seed alone, and
# nothing is written into the working tree.
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    # The same examples every run, so CI is repeatable; widen the search locally with
    # --hypothesis-seed when changing the models.
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# A healthy case records an action in well under a second; a case still not answering after this
# long is wedged (for example, its store write is being refused and retried for ever).
ANSWER_SECONDS = 30.0

# -- value strategies -----------------------------------------------------------------------------

HUGE = "x" * 100_000
# Shapes real clients get wrong: empty, blank, control characters (NUL), bidi and zero-width
# marks, emoji, CJK, SQL and markup, and sizes past every limit, up to past Temporal's 2 MB blob cap.
ODD_STRINGS = [
    "", " ", "\t\n", "\x00", "a\x00b", "\u202eevil", "\ufeffbom", "\u200b", "💥", "售后服务", "é" * 300,
    "'; DROP TABLE cases; --", "<script>alert(1)</script>", "null", "0", "-1", "1e3", "NaN",
    "Infinity", "x" * 201, "x" * 4001, HUGE, "a" * 3_000_000 + "@example.com",
]
BAD_EMAILS = ["no-at-sign", "a@b", "@example.com", "a b@example.com", "a@@example.com",
              "a@example.com ", "a@例子.中国", "a" * 70_000 + "@example.com", "\x00@x.cn"]
BAD_AMOUNTS = [-1, -0.01, "-0.01", "-1", 0.001, "0.001", 1e20, "123456789012345", "NaN",
               "Infinity", "-Infinity", True, "", "12,50", [], {}, float("nan"), float("inf")]

text = st.one_of(st.text(max_size=40), st.sampled_from(ODD_STRINGS))
leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), text,
)
json_value = st.recursive(
    leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)


def _valid_intake() -> dict[str, Any]:
    return intake(case_id=f"fz{uuid.uuid4().hex[:12]}").model_dump(mode="json")


INTAKE_PATHS = [
    ("case_id",), ("order_id",), ("customer",), ("customer", "id"), ("customer", "name"),
    ("customer", "phone"), ("customer", "email"), ("customer", "tier"), ("channel",), ("category",),
    ("description",), ("order_amount",), ("currency",), ("requested_resolution",), ("flags",),
    ("flags", "safety_risk"), ("flags", "outage"), ("flags", "cross_department"),
    ("flags", "major_complaint"), ("surprise",), ("customer", "surprise"),
]


# Lone surrogates: what a JSON `\ud800` escape decodes to. Only intakes get them, because the
# client validates intakes before sending; a raw payload holding one cannot even be encoded.
LONE_SURROGATES = ["\ud800", "a\udfffb"]


def _replacements(path: tuple[str, ...]) -> st.SearchStrategy[Any]:
    special: list[Any] = list(LONE_SURROGATES)
    if path[-1] == "email":
        special = BAD_EMAILS
    elif path[-1] == "order_amount":
        special = BAD_AMOUNTS
    return st.one_of(json_value, text, st.sampled_from(special))


@st.composite
def intake_mutations(draw: st.DrawFn) -> dict[str, Any]:
    """A valid intake with one to three fields deleted, retyped or replaced by odd values."""
    data = _valid_intake()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(INTAKE_PATHS))
        parent: Any = data
        for key in path[:-1]:
            if not isinstance(parent.get(key), dict):
                parent[key] = {}
            parent = parent[key]
        if draw(st.booleans()) and path[-1] in parent:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_replacements(path))
    return data


random_intakes = st.dictionaries(
    st.one_of(st.sampled_from(sorted(CaseIntake.model_fields)), st.text(max_size=12)), json_value, max_size=8,
)


# -- intakes ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def fuzz_queue(env, policy) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    async with memory_worker(env.client, policy) as task_queue:
        yield task_queue


async def answered(call: Awaitable[T], what: str) -> T:
    """The call's result, or a failure saying the case is wedged if it does not answer in time."""
    try:
        return await asyncio.wait_for(call, ANSWER_SECONDS)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise AssertionError(f"{what} did not answer within {ANSWER_SECONDS:.0f} s: the case is wedged") from None


async def execution_status(handle: Any) -> WorkflowExecutionStatus:
    """The run's status, read raw: the time-skipping server keeps an unset Datetime search
    attribute as null, which `describe()` cannot decode."""
    response = await handle._client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=handle._client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )
    return WorkflowExecutionStatus(response.workflow_execution_info.status)


def _names_a_field(message: str, raw: dict[str, Any]) -> bool:
    # validation_message() writes `loc.of.field: what is wrong`; the loc starts with a field of
    # the model, or with the unexpected key the client sent. A key that is not even a valid
    # string (a lone surrogate from a `\ud800` JSON escape) fails before any field is matched,
    # and pydantic reports it against the whole `input`.
    names = tuple(CaseIntake.model_fields) + tuple(str(k) for k in raw) + ("input",)
    return ": " in message and message.startswith(names)


async def _open_or_refuse(client: CaseClient, raw: dict[str, Any]) -> None:
    try:
        opened = await asyncio.wait_for(client.open(copy.deepcopy(raw)), ANSWER_SECONDS * 2)
    except CaseError as err:
        assert _names_a_field(str(err), raw), f"refusal does not name a field: {err}"
        assert "\n" not in str(err)
        event("intake refused")
        return
    event("intake opened" if opened.created else "intake matched an existing case")
    handle = client.handle(opened.case_id)
    try:
        if opened.created:
            # Opened means usable: the case records its next action.
            state = await answered(
                client.act(opened.case_id, "note", {"actor": "fuzz", "text": "still there?"}),
                f"the first action on opened case {opened.case_id}",
            )
            assert state.status == Status.REGISTERED
    finally:
        await handle.terminate(reason="fuzz example done")


@SETTINGS
@given(raw=st.one_of(intake_mutations(), random_intakes))
@example(raw=_valid_intake())
@example(raw={**_valid_intake(), "description": "line one\x00line two"})
@example(raw={**_valid_intake(), "customer": {"id": "c1", "email": "a" * 3_000_000 + "@example.com"}})
async def test_open_opens_a_working_case_or_names_the_field(env, fuzz_queue, raw):  # type: ignore[no-untyped-def]
    await _open_or_refuse(CaseClient(env.client, fuzz_queue), raw)


# -- raw update payloads ------------------------------------------------------------------------------

VALID_PAYLOADS: dict[str, dict[str, Any]] = {
    "acknowledge": {"actor": "agent-z", "message": "on it"},
    "assign": {"actor": "lead", "handler": "agent-z", "team": "returns"},
    "note": {"actor": "agent-z", "text": "a note"},
    "request_info": {"actor": "agent-z", "question": "photo please"},
    "customer_reply": {"text": "here"},
    "reclassify": {"actor": "agent-z", "tier": "complex", "reason": "several departments"},
    "propose_resolution": {"actor": "agent-z", "type": "refund", "amount": "10.00", "note": "sorry"},
    "approve": {"actor": "sup", "note": "ok", "role": "supervisor"},
    "reject": {"actor": "sup", "reason": "too much", "role": "supervisor"},
    "confirm": {},
    "dispute": {"reason": "still broken"},
    "rate": {"score": 4, "comment": "fine"},
    "follow_up_result": {"actor": "agent-z", "outcome": "satisfied", "note": ""},
    "escalate": {"actor": "agent-z", "reason": "angry customer"},
    "withdraw": {"reason": "changed my mind"},
    "return_shipped": {"carrier": "SF", "tracking_number": "SF12345678"},
    "return_received": {"actor": "warehouse", "note": "box intact"},
    "inspection_result": {"result": "failed", "notes": "scratched", "evidence": ["photo-1"]},
    "repair_result": {"result": "fixed", "repair_record": "RR-1"},
    "agent_reply": {"actor": "agent-z", "text": "on it"},
    "customer_message": {"text": "any news?"},
    "request_remedy": {"remedy": "refund_only", "reason": "not_received", "amount": "5.00",
                       "order": {"signed_at": "2026-03-01T10:00:00+08:00", "sku": "S-1", "serial": "N-1"}},
    "answer_request": {"actor": "merchant-z", "decision": "reject", "reason": "fresh food"},
    "return_delivered": {"actor": "carrier", "note": "left at the door"},
    "ask_intervention": {"reason": "the merchant refused", "references": ["IMG-1"]},
    "submit_evidence": {"actor": "merchant-z", "party": "merchant", "text": "shipped intact"},
    "request_evidence": {"actor": "arbiter-z", "party": "buyer", "question": "a photo?", "role": "arbiter"},
    "rule": {"actor": "arbiter-z", "decision": "refund", "amount": "10", "reason": "r", "role": "arbiter"},
    "confirm_ruling": {"actor": "arbiter-y", "agree": True, "role": "arbiter"},
    "carry_out_ruling": {"actor": "merchant-z", "note": "paid"},
    "appeal": {"party": "merchant", "reason": "look again"},
}
assert set(VALID_PAYLOADS) == set(ACTION_MODELS)

FIELDS = {name: sorted(model.model_fields) for name, model in ACTION_MODELS.items()}
FIELD_SPECIAL: dict[str, list[Any]] = {
    "amount": BAD_AMOUNTS + ["99999999999.99", "1.5", 0, "0"],
    "score": [0, 6, -1, 3.5, "5", "five", 10**20, None, True],
    "type": ["refund", "refund_only", "return_refund", "exchange", "repair", "compensation",
             "explanation", "REFUND", "", None, 1],
    "result": ["passed", "failed", "fixed", "not_fixable", "PASSED", "", None, 1],
    "evidence": [[], ["x" * 121], ["a"] * 21, "photo", [None], [1]],
    "tracking_number": ["SF1", "SF 123456", "x" * 41, "", None, 12345678],
    "tier": ["urgent", "complex", "general", "URGENT", "vip", None, 0],
    "category": ["safety", "logistics", "other", "food", None],
    "outcome": ["satisfied", "unsatisfied", "recurred", "unreachable", "maybe", None],
    "flags": [{}, {"safety_risk": True}, {"outage": "yes"}, {"nope": True}, [], None],
    "remedy": ["refund_only", "return_refund", "exchange", "repair", "refund", "", None, 1],
    "decision": ["agree", "reject", "AGREE", "maybe", "refund", "return_refund", "exchange", None],
    "party": ["buyer", "merchant", "platform", "court", None, 1],
    "references": [[], ["x" * 121], ["a"] * 21, "photo", [None]],
    "order": [{}, {"signed_at": "2026-03-01T10:00:00"}, {"signed_at": "yesterday"}, {"goods_class": "cake"},
              {"warranty_ends": "2026-13-01"}, {"sku": ""}, {"extra": 1}, [], None],
}


@st.composite
def update_payloads(draw: st.DrawFn) -> tuple[str, Any]:
    action = draw(st.sampled_from(sorted(ACTION_MODELS)))
    if draw(st.integers(0, 4)) == 0:
        return action, draw(st.one_of(json_value, st.dictionaries(st.text(max_size=10), json_value, max_size=5)))
    payload = copy.deepcopy(VALID_PAYLOADS[action])
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.one_of(st.sampled_from(FIELDS[action]), st.sampled_from(["surprise", "actor"])))
        if draw(st.integers(0, 3)) == 0:
            payload.pop(key, None)
            continue
        choices = [json_value, text]
        if key in FIELD_SPECIAL:
            choices.append(st.sampled_from(FIELD_SPECIAL[key]))
        payload[key] = draw(st.one_of(*choices))
    return action, payload


STAGES = ("registered", "acknowledged", "awaiting_customer", "awaiting_approval",
          "awaiting_confirmation", "awaiting_rating", "follow_up")


class CaseBench:
    """One live case parked in each status; a case that moves on is replaced by a fresh one."""

    def __init__(self, client: CaseClient) -> None:
        self.client = client
        self.cases: dict[str, str] = {}
        self.used: list[str] = []

    async def case_in(self, stage: str) -> str:
        case_id = self.cases.get(stage)
        if case_id is not None:
            # A case an earlier example wedged does not answer; it is judged at the end.
            with contextlib.suppress(Exception):
                state = await asyncio.wait_for(self.client.state(case_id), 3)
                if state.status.value == stage:
                    return case_id
        case_id = await self._make(stage)
        self.cases[stage] = case_id
        return case_id

    async def _make(self, stage: str) -> str:
        c = self.client
        case = intake(case_id=f"fu{uuid.uuid4().hex[:12]}", order_amount="900.00", customer_tier="vip")
        await c.open(case)
        self.used.append(case.case_id)
        cid = case.case_id
        steps: dict[str, list[tuple[str, dict[str, Any]]]] = {
            "registered": [],
            "acknowledged": [("acknowledge", {})],
            "awaiting_customer": [("acknowledge", {}), ("request_info", {"question": "photo?"})],
            "awaiting_approval": [("acknowledge", {}),
                                  ("propose_resolution", {"type": "refund", "amount": "600"})],
            "awaiting_confirmation": [("acknowledge", {}), ("propose_resolution", {"type": "explanation"})],
            "awaiting_rating": [("acknowledge", {}), ("propose_resolution", {"type": "explanation"}),
                                ("confirm", {})],
            "follow_up": [("acknowledge", {}), ("propose_resolution", {"type": "explanation"}),
                          ("confirm", {}), ("rate", {"score": 5})],
        }[stage]
        for action, data in steps:
            if action == "confirm":
                await self._settled(cid, Status.AWAITING_CONFIRMATION)
            await c.act(cid, action, data)
        await self._settled(cid, Status(stage))
        return cid

    async def _settled(self, case_id: str, status: Status) -> None:
        """Wait until the case is in `status` and has nothing of its own left to do."""
        for _ in range(200):
            state = await self.client.state(case_id)
            # In follow_up the workflow books the visit by itself after the rating.
            booked = status != Status.FOLLOW_UP or (state.follow_up is not None and state.follow_up.reference)
            if state.status == status and booked:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"case {case_id} never settled in {status.value}")


@pytest.fixture(scope="module")
async def bench(env, fuzz_queue) -> AsyncIterator[CaseBench]:  # type: ignore[no-untyped-def]
    bench = CaseBench(CaseClient(env.client, fuzz_queue))
    yield bench
    for case_id in bench.used:
        with contextlib.suppress(Exception):  # already finished
            await bench.client.handle(case_id).terminate(reason="fuzz done")


def _comparable(state: CaseState) -> dict[str, Any]:
    return state.model_dump(mode="json")


@SETTINGS
@given(stage=st.sampled_from(STAGES), update=update_payloads())
@example(stage="registered", update=("rate", {"score": 5}))
@example(stage="acknowledged", update=("propose_resolution", {"type": "refund", "amount": "NaN"}))
@example(stage="registered", update=("note", {"text": "x\x00y"}))
@example(stage="registered", update=("acknowledge", None))
@example(stage="registered", update=("acknowledge", {"actor": "a", "message": "m" * 1_500_000}))
@example(stage="acknowledged", update=("note", {"text": "t", "padding": ["p" * 1000] * 1000}))
async def test_raw_updates_are_rejected_unchanged_or_applied(bench, stage, update):  # type: ignore[no-untyped-def]
    action, payload = update
    case_id = await bench.case_in(stage)
    handle = bench.client.handle(case_id)
    before = await answered(bench.client.state(case_id), f"query on {case_id}")
    try:
        after = await answered(
            handle.execute_update(action, payload, result_type=CaseReceipt),
            f"{action} {payload!r:.200} on a {stage} case",
        )
    except WorkflowUpdateFailedError:
        unchanged = await answered(bench.client.state(case_id), f"query on {case_id}")
        changed = {k for k, v in _comparable(unchanged).items() if _comparable(before).get(k) != v}
        assert not changed, f"a rejected {action} changed {sorted(changed)}"
        event("update rejected")
    else:
        assert after.last_seq > before.last_seq, "an applied update left no audit event"
        event("update applied")
    # Whatever happened, the workflow is alive (or finished normally) and answers.
    status = await execution_status(handle)
    assert status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED), status
    await answered(bench.client.state(case_id), f"query on {case_id}")


@st.composite
def note_signals(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return None
    if kind == 1:
        return draw(json_value)
    payload = {"actor": "agent-z", "text": "fire and forget"}
    for key in draw(st.lists(st.sampled_from(["actor", "text", "surprise"]), max_size=2)):
        payload[key] = draw(st.one_of(json_value, text))
    return payload


@SETTINGS
@given(stage=st.sampled_from(STAGES), payload=note_signals())
@example(stage="registered", payload={"text": "fine"})
@example(stage="registered", payload=None)
async def test_raw_note_signals_never_wedge_the_case(bench, stage, payload):  # type: ignore[no-untyped-def]
    """The fire-and-forget `add_note` signal has no validator: a bad one must be dropped."""
    case_id = await bench.case_in(stage)
    handle = bench.client.handle(case_id)
    before = await answered(bench.client.state(case_id), f"query on {case_id}")
    await handle.signal("add_note", payload)
    after = await answered(
        bench.client.act(case_id, "note", {"text": "after the signal"}),
        f"a valid note after add_note({payload!r:.200}) on a {stage} case",
    )
    assert after.last_seq - before.last_seq in (1, 2)
    event("signal applied" if after.last_seq - before.last_seq == 2 else "signal dropped")


async def test_after_the_fuzzing_every_case_answers_and_acts(bench):  # type: ignore[no-untyped-def]
    """Runs after the update and signal properties: no case they touched is failed or wedged."""
    assert bench.used
    problems = []
    for case_id in bench.used:
        handle = bench.client.handle(case_id)
        try:
            status = await execution_status(handle)
            assert status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED), status
            state = await answered(bench.client.state(case_id), f"query on {case_id}")
            if status == WorkflowExecutionStatus.RUNNING:
                assert state.status.value not in ("closed", "withdrawn")
                after = await answered(bench.client.act(case_id, "note", {"text": "final check"}),
                                       f"a valid note on {case_id}")
                assert after.last_seq > state.last_seq
        except Exception as err:  # noqa: BLE001 - collect every case, then fail once
            problems.append(f"{case_id}: {str(err).splitlines()[0]}")
    assert not problems, "\n".join(problems)


# -- policy files --------------------------------------------------------------------------------------

DEFAULT_TEXT = resources.files("cases").joinpath("default_policy.toml").read_text(encoding="utf-8")
DEFAULT_DATA = tomllib.loads(DEFAULT_TEXT)


def _toml_key(key: str) -> str:
    return key if key and all(ch.isalnum() or ch in "-_" for ch in key) and key.isascii() else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def to_toml(data: dict[str, Any]) -> str:
    """Plain keys first, then one [table] per nested table (inline tables below that)."""
    lines = [f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]

    def tables(prefix: list[str], table: dict[str, Any]) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                path = [*prefix, _toml_key(str(key))]
                lines.append(f"[{'.'.join(path)}]")
                lines.extend(f"{_toml_key(str(k))} = {_toml_value(v)}"
                             for k, v in value.items() if not isinstance(v, dict))
                tables(path, value)

    tables([], data)
    return "\n".join(lines) + "\n"


toml_leaf = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(),
    st.text(max_size=20), st.sampled_from(["1h", "15m", "0h", "-1h", "7wd", "9bh", "1e3h", "99999d", "0.5s",
                                           "Asia/Shanghai", "Mars/Base", "", "CN", "XX", "urgent", "vip"]),
    st.dates(), st.times(), st.datetimes(timezones=st.just(UTC)),
)
toml_value = st.recursive(
    toml_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(min_size=1, max_size=10), inner, max_size=4)),
    max_leaves=10,
)


def _paths(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    return out


DEFAULT_PATHS = _paths(DEFAULT_DATA)
# Values an operator might plausibly write, so that many mutants still load and get resolved.
PLAUSIBLE = st.sampled_from([
    "2h", "30m", "0.5h", "3wd", "12bh", "1s", "3650d", "0.01s", 0, 1, 0.5, 0.999, 5, 500, 10**12,
    [], ["urgent"], ["vip"], ["refund", "exchange"], [0, 1, 2, 3, 4, 5], [6], time(0, 0), time(23, 59, 59),
    time(9, 0), date(2026, 10, 1), [date(2026, 10, 1), date(2026, 10, 2)], "UTC", "Pacific/Kiritimati",
    "US", "", {"1": "top"}, {"1": "a", "2": "b"}, {"urgent": 1, "complex": 1, "general": 1},
])


@st.composite
def policy_mutations(draw: st.DrawFn) -> str:
    data = copy.deepcopy(DEFAULT_DATA)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(DEFAULT_PATHS))
        parent: Any = data
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
            if not isinstance(parent, dict):
                break
        if not isinstance(parent, dict):
            continue
        move = draw(st.integers(0, 4))
        if move == 0:
            parent.pop(path[-1], None)
        elif move == 1:
            parent[path[-1] + draw(st.sampled_from(["_", "s", "X"]))] = parent.get(path[-1], 1)
        elif move == 2:
            parent[path[-1]] = draw(toml_value)
        else:
            parent[path[-1]] = draw(PLAUSIBLE)
    return to_toml(data)


@st.composite
def text_mutations(draw: st.DrawFn) -> str | bytes:
    lines = DEFAULT_TEXT.splitlines(keepends=True)
    kind = draw(st.integers(0, 4))
    if kind == 0:
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif kind == 1:
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i, lines[i])
    elif kind == 2:
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines[i])))
        lines[i] = lines[i][:j] + draw(st.text(min_size=1, max_size=5)) + lines[i][j:]
    elif kind == 3:
        return "".join(lines)[: draw(st.integers(0, len(DEFAULT_TEXT)))]
    else:
        raw = "".join(lines).encode()
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + draw(st.binary(min_size=1, max_size=4)) + raw[i + 1:]
    return "".join(lines)


random_documents = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(sorted(Policy.model_fields)), st.text(min_size=1, max_size=10)),
                    toml_value, max_size=6).map(to_toml),
    st.text(max_size=200),
    st.binary(max_size=200),
)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.one_of(policy_mutations(), text_mutations(), random_documents))
@example(document=DEFAULT_TEXT)
@example(document=DEFAULT_TEXT.replace('timezone = "Asia/Shanghai"', 'timezone = "America"'))
@example(document=DEFAULT_TEXT.replace('first_response = "1h"', 'first_response = "1' + "0" * 400 + 'h"'))
@example(document=b"\xff\xfe not utf-8")
def test_policy_file_loads_or_raises_policy_error(document: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.toml"
        if isinstance(document, bytes):
            path.write_bytes(document)
        else:
            path.write_text(document, encoding="utf-8", errors="surrogatepass")
        try:
            policy = load_policy(path)
        except PolicyError as err:
            assert "\n" not in str(err), f"not one line: {err!r}"
            event("policy refused")
            return
    assert isinstance(policy, Policy)
    event("policy loaded")
    # A policy that loads must serve cases: resolving it for a case must not fail.
    policy.snapshot(datetime.now(UTC))
