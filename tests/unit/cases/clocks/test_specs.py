"""The clock specs are the one place a clock is described: its target's key in the policy, its
label, and what its warning and breach do, read by the policy, the machine and the UI alike."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from cases.clocks import specs
from cases.clocks.specs import CLOCKS, HANDLING_CLOCKS, PLAIN_CLOCKS, ClockName
from cases.models import Category, CustomerTier, ProposeResolution, ResolutionType, Tier
from cases.policy.snapshot import Policy, PolicyError, PolicySnapshot, load_policy
from tests.support.machine import AP, HOUR, T0, general
from tests.unit.cases.policy.test_policy import default_text, snap, write

__all__ = ["snap"]  # the policy tests' snapshot fixture


def test_every_clock_has_a_target_for_every_tier_where_its_spec_says(snap: PolicySnapshot) -> None:
    for name in ClockName:
        for tier in Tier:
            target = snap.target(name, tier, Category.OTHER, CustomerTier.STANDARD)
            assert target.seconds > 0, (name, tier)
    assert snap.target(ClockName.APPROVAL, Tier.GENERAL, Category.OTHER, CustomerTier.STANDARD).label == "4h"
    assert set(snap.clocks) == set(PLAIN_CLOCKS)
    assert set(HANDLING_CLOCKS) == set(snap.targets[Tier.GENERAL])


def test_a_1_0_snapshot_reads_its_plain_targets_from_its_own_fields(snap: PolicySnapshot) -> None:
    carried = snap.model_dump(mode="json")
    del carried["clocks"]
    # The merchant's duties came later: a 1.0 case never starts them.
    later = {name for name, spec in CLOCKS.items() if spec.policy_key.startswith("platform.")}
    assert PolicySnapshot.model_validate(carried).clocks == {n: d for n, d in snap.clocks.items() if n not in later}


def test_a_clocks_key_for_a_clock_set_elsewhere_is_refused_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, default_text() + '\n[clocks]\napproval = "1h"\n')
    with pytest.raises(PolicyError, match=r"clocks.approval: set it at approval.target instead"):
        load_policy(path)


def test_the_machine_labels_warns_and_breaches_as_the_spec_says(
    policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The approval clock relabelled on its row: the timer, the warning and the breach say so.
    monkeypatch.setitem(specs.CLOCKS, AP, dataclasses.replace(CLOCKS[AP], label="sign-off"))
    m = general(policy)
    m.apply("propose_resolution", ProposeResolution(actor="agent-1", type=ResolutionType.REFUND,
                                                    amount=Decimal("1500")), T0)
    assert m.state.clocks[AP].due_at == T0 + 4 * HOUR
    wake = m.next_wake()
    assert wake is not None and wake[1].startswith("sign-off SLA (general) warning at")
    m.fire_due(T0 + 4 * HOUR)
    subjects = [n.subject for n in m.notifications]
    assert any(s.startswith("sign-off SLA (general) due") for s in subjects)
    escalated = [e for e in m.events if e.type == "escalated"]
    assert [e.data["reason"] for e in escalated] == ["sign-off SLA breached"]


def test_a_clock_newer_than_a_cases_policy_is_not_started_for_it(policy: Policy) -> None:
    # A snapshot taken before the approval clock existed (no target for it): the case keeps the
    # rules it opened on, so a proposal that needs approval starts no approval clock.
    m = general(policy)
    m.policy = m.policy.model_copy(update={"clocks": {}})
    m.apply("propose_resolution", ProposeResolution(actor="agent-1", type=ResolutionType.REFUND,
                                                    amount=Decimal("1500")), T0)
    assert m.state.status.value == "awaiting_approval"
    assert AP not in m.state.clocks


def test_a_file_without_a_plain_clocks_key_takes_the_specs_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(specs.CLOCKS, AP, dataclasses.replace(CLOCKS[AP], policy_key="clocks.approval"))
    with pytest.raises(PolicyError, match=r"clocks.approval: the target of clock approval is missing"):
        load_policy(write(tmp_path, default_text()))
    monkeypatch.setitem(specs.CLOCKS, AP, dataclasses.replace(CLOCKS[AP], policy_key="clocks.approval", default="3h"))
    snapshot = load_policy(write(tmp_path, default_text())).snapshot(T0)
    assert snapshot.clocks[AP].label == "3h"
    snapshot = load_policy(write(tmp_path, default_text() + '\n[clocks]\napproval = "5h"\n')).snapshot(T0)
    assert snapshot.clocks[AP].label == "5h"


def test_a_clock_under_clocks_names_a_default_so_older_policy_files_still_load() -> None:
    assert all(spec.default is not None for spec in CLOCKS.values() if spec.policy_key.startswith("clocks."))
