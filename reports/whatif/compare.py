"""Whether a replay reproduced its recorded case exactly: `differences`.

Under the policy a case ran on, its replay must give the same audit trail (every event's type,
actor, instant and data, in sequence) and the same end: status, tier, escalation level and
count, reopens, and every clock as it stands. A difference is one line naming the first place
the two part ways, so a report can show a handful and count the rest.

A line goes into every rendering of the report, so it holds no personal data: an event is
named by its seq, type and instant, and its data only by the names of the keys that differ;
values are shown for the few keys that can never hold a person's words or details (`SHOWN`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cases.models import CaseEvent, CaseState
from reports.whatif.replay import Replayed
from reports.whatif.timeline import RecordedEvent, Timeline

# Keys whose values are the policy's own figures (clock names, instants, tiers, statuses).
SHOWN = frozenset({"clock", "due_at", "warn_at", "tier", "status", "on_time", "needs_approval"})
_END_FIELDS = ("status", "tier", "escalation_level", "escalations", "reopen_count", "closed_at",
               "first_response_at", "resolved_at")


def _json(value: Any) -> Any:
    # Both sides as the record stores them: JSON, with numbers compared by value.
    return json.loads(json.dumps(value, default=str))


def _event_key(event: CaseEvent | RecordedEvent) -> tuple[Any, ...]:
    # The JSON dump is what the record stored; numbers then compare by value (3600 == 3600.0).
    data = event.model_dump(mode="json")["data"] if isinstance(event, CaseEvent) else event.data
    return (event.seq, event.type, event.actor, event.at, data)


def _json_data(event: CaseEvent) -> Any:
    data = event.data
    # Most events hold only strings, numbers and booleans, already as JSON has them.
    if all(v is None or isinstance(v, str | int | float | bool) for v in data.values()):
        return data
    return event.model_dump(mode="json")["data"]


def _end(state: CaseState) -> dict[str, Any]:
    dumped: dict[str, Any] = _json(state.model_dump(mode="json", include={*_END_FIELDS, "clocks"}))
    return dumped


def differences(timeline: Timeline, replayed: Replayed) -> list[str]:
    """Where the replay departs from the record (the first audit event that differs, else the
    length and the end); empty when it reproduced the case exactly."""
    case = timeline.case_id
    if replayed.error is not None:
        return [f"{case}: replay failed: {replayed.error}"]
    out: list[str] = []
    recorded, again = timeline.recorded, replayed.events
    for mine, theirs in zip(again, recorded, strict=False):
        if theirs.seq <= timeline.stale_opening:
            # A retried opening task: the record holds the first attempt's instants.
            if (mine.type, mine.actor) == (theirs.type, theirs.actor):
                continue
        elif (mine.type, mine.at) == (theirs.type, theirs.at) and mine.actor == theirs.actor:
            if _json_data(mine) == theirs.data:
                continue
        a, b = _event_key(mine), _event_key(theirs)
        if a != b:
            # The first departure says where; what follows from it is the policy's doing.
            return [f"{case}: event {theirs.seq} recorded {_show(b)}, replayed {_show(a)}"
                    + _data_differs(b, a)]
    if len(again) != len(recorded):
        out.append(f"{case}: {len(recorded)} events recorded, {len(again)} replayed")
    recorded_end, replayed_end = timeline.final, replayed.final
    if all(getattr(recorded_end, n) == getattr(replayed_end, n) for n in (*_END_FIELDS, "clocks")):
        return out  # models compare field by field, instants by the moment they name
    end_recorded, end_replayed = _end(recorded_end), _end(replayed_end)
    for name in _END_FIELDS:
        if end_recorded.get(name) != end_replayed.get(name):
            out.append(
                f"{case}: {name} recorded {end_recorded.get(name)}, replayed {end_replayed.get(name)}"
            )
    clocks_recorded, clocks_replayed = end_recorded.get("clocks") or {}, end_replayed.get("clocks") or {}
    if clocks_recorded != clocks_replayed:
        names = sorted(n for n in {*clocks_recorded, *clocks_replayed}
                       if clocks_recorded.get(n) != clocks_replayed.get(n))
        out.append(f"{case}: clocks differ: {', '.join(names)}")
    return out


OUTCOME_FIELDS = ("status", "tier", "escalation_level", "escalations", "reopen_count")


def outcome_changed(timeline: Timeline, replayed: Replayed) -> bool:
    """Whether the case ended another way (status, tier, escalations, reopens), not merely with
    other instants in its trail."""
    a, b = timeline.final, replayed.final
    return replayed.error is not None or any(getattr(a, n) != getattr(b, n) for n in OUTCOME_FIELDS)


def _show(key: tuple[Any, ...]) -> str:
    _seq, kind, _actor, at, _data = key
    return f"{kind} at {at.isoformat()}"


def _data_differs(recorded: tuple[Any, ...], replayed: tuple[Any, ...]) -> str:
    """The names of what differs between two events' actor and data; values only for `SHOWN`."""
    a, b = recorded[4], replayed[4]
    a, b = (a if isinstance(a, Mapping) else {}), (b if isinstance(b, Mapping) else {})
    names = ["actor"] if recorded[2] != replayed[2] else []
    for name in sorted({*a, *b}):
        if a.get(name) != b.get(name):
            names.append(f"{name} {a.get(name)} -> {b.get(name)}" if name in SHOWN else name)
    return f"; differs in {', '.join(names)}" if names else ""
