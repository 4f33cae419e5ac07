"""The SLA clock's record and the states one moves through; which clocks there are is `specs`.

Part of the case vocabulary (`cases/models.py` re-exports it); the arithmetic lives in
`cases/clocks/sla.py`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from cases.clocks.specs import ClockName


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    WARNED = "warned"
    MET = "met"
    BREACHED = "breached"


class Clock(BaseModel):
    """One SLA clock. Time is counted over running intervals, in the clock's metric."""

    name: ClockName
    target_seconds: float
    business: bool = False
    target_label: str = ""
    started_at: datetime
    # Consumed time of closed running segments, in the clock's metric (seconds).
    consumed_seconds: float = 0.0
    running_since: datetime | None = None
    paused_at: datetime | None = None
    due_at: datetime | None = None
    warn_at: datetime | None = None
    state: ClockState = ClockState.RUNNING
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    breach_detected_at: datetime | None = None
    met_at: datetime | None = None
    # Set when the clock's goal stopped applying (withdrawal, reopen) without being met.
    stopped_at: datetime | None = None
    elapsed_seconds: float | None = None
    # The next-reply clock runs once per customer message answered: 0, 1, 2, ... in a round.
    turn: int = 0
