"""Duration strings of the SLA policy ("15m", "24h", "7wd") and their parsed form.

Operators write every target in the policy file as a short text. `parse_duration` turns it into a
`Duration`: a number of seconds plus whether those seconds are wall-clock time or business time
(counted only inside working hours on working days, see `cases.clocks.calendar`). The original text is
kept as the label so timers and reports show what the operator wrote, not a float.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

SYNTAX_HINT = "use e.g. 15m, 24h, 7d, 9bh, 7wd"

# Wall-clock units. `bh` and `wd` are business units; a working day's length depends on the
# calendar, so it is passed in rather than fixed here.
_WALL_UNITS: dict[str, float] = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BUSINESS_UNITS = ("bh", "wd")

_PATTERN = re.compile(r"^(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>bh|wd|s|m|h|d)$")

# Anything longer is a typo (an extra zero), not a service-level target; it would also overflow
# datetime arithmetic further down.
_MAX_SECONDS = 10 * 366 * 86400.0


class Duration(BaseModel):
    """A parsed duration. `business` durations are counted in working time only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seconds: float
    business: bool
    label: str

    def __str__(self) -> str:
        return self.label


def parse_duration(text: str, working_day_seconds: float) -> Duration:
    """Parse `<number><unit>` (units s, m, h, d, bh, wd); 1wd is `working_day_seconds` long."""
    if not isinstance(text, str):
        raise ValueError(f"bad duration {text!r}: expected a string ({SYNTAX_HINT})")
    if not (working_day_seconds > 0 and math.isfinite(working_day_seconds)):
        raise ValueError(f"working day length must be above zero, got {working_day_seconds!r}")
    label = text.strip()
    if label.startswith("-"):
        raise ValueError(f"bad duration {text!r}: must be above zero ({SYNTAX_HINT})")
    match = _PATTERN.match(label)
    if match is None:
        raise ValueError(
            f"bad duration {text!r}: expected <number><unit> with unit s, m, h, d, bh or wd "
            f"({SYNTAX_HINT})"
        )
    number = float(match["number"])
    unit = match["unit"]
    if unit in _WALL_UNITS:
        seconds = number * _WALL_UNITS[unit]
    elif unit == "bh":
        seconds = number * 3600.0
    else:
        seconds = number * working_day_seconds
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: must be above zero ({SYNTAX_HINT})")
    if seconds > _MAX_SECONDS:
        raise ValueError(f"bad duration {text!r}: longer than ten years ({SYNTAX_HINT})")
    return Duration(seconds=seconds, business=unit in _BUSINESS_UNITS, label=label)


# Only the syntax is checked when a policy file is read; the length of a working day (for `wd`)
# is known once the calendar is resolved.
_SYNTAX_CHECK_WORKING_DAY = 8 * 3600.0


def _check_duration_text(text: str) -> str:
    parse_duration(text, _SYNTAX_CHECK_WORKING_DAY)
    return text.strip()


# A duration as written in the policy file, checked for syntax.
DurationText = Annotated[str, AfterValidator(_check_duration_text)]
