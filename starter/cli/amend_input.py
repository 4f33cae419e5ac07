"""The files `aftersales amend` reads: an amended `[calendar]`, and `[targets]` when they change.

Both use the policy file's own keys and checks, so an operator copies the tables out of the
policy they already edit. Every problem is one line naming the file and the key, in the words
the policy loader uses, and is found before any case is sent anything.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from cases.clocks.calendar import CalendarSettings
from cases.clocks.durations import DurationText, parse_duration
from cases.clocks.specs import HANDLING_CLOCKS
from cases.models import ClockName, Tier
from cases.policy.amendment import PolicyAmendment, TierTargets
from cases.policy.snapshot import describe_problems
from runtime.errors import UserError

M = TypeVar("M", bound=BaseModel)


def _tier_clocks_only(targets: dict[Tier, dict[ClockName, str]]) -> dict[Tier, dict[ClockName, str]]:
    allowed = ", ".join(c.value for c in HANDLING_CLOCKS)
    for tier, clocks in targets.items():
        for clock in clocks:
            if clock not in HANDLING_CLOCKS:
                raise ValueError(f"{tier.value}.{clock.value}: not a tier target (one of {allowed})")
    return targets


class CalendarFile(BaseModel):
    """amended.toml: one `[calendar]` table with the policy file's keys."""

    model_config = ConfigDict(extra="forbid")

    calendar: CalendarSettings


class TargetsFile(BaseModel):
    """targets.toml: `[targets.<tier>]` tables; only the tiers and clocks named change."""

    model_config = ConfigDict(extra="forbid")

    targets: Annotated[dict[Tier, dict[ClockName, DurationText]], AfterValidator(_tier_clocks_only)]


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: TOML syntax error: {str(err).splitlines()[0]}") from None


def _validated(model: type[M], path: Path, base: CalendarSettings | None = None) -> M:
    data = _read(path)
    table = data.get("calendar")
    if base is not None and isinstance(table, dict):
        # A key the file leaves out means "as in the policy in force", not the package default:
        # a file listing only the announced days must not reset the time zone or the hours.
        data = data | {"calendar": base.model_dump() | table}
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise UserError(f"{path}: {describe_problems(err)}") from None


def load_amendment(
    calendar_path: Path, targets_path: Path | None, now: datetime, in_force: CalendarSettings
) -> PolicyAmendment:
    """The amendment the files describe, resolved for the years open cases can still count in.

    The `[calendar]` file's keys replace those of `in_force` (the policy's calendar); keys it
    leaves out keep the policy's values. The years are those a case opened now would capture
    (last year to two years on, as `Policy.snapshot` resolves them), so rerunning the command
    within a year sends the same amendment, with the same id, and cases already amended answer
    "unchanged".
    """
    settings = _validated(CalendarFile, calendar_path, in_force).calendar
    # Validate the targets before resolving anything, so a bad second file fails as fast.
    texts = _validated(TargetsFile, targets_path).targets if targets_path is not None else None
    year = now.astimezone(ZoneInfo(settings.timezone)).year
    calendar = settings.resolve(range(year - 1, year + 3))
    targets: TierTargets | None = None
    if texts is not None:
        day = calendar.working_day_seconds
        targets = {
            tier: {clock: parse_duration(text, day) for clock, text in clocks.items()}
            for tier, clocks in texts.items()
        }
    return PolicyAmendment(calendar=calendar, targets=targets)
