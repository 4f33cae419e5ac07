"""The SLA policy: the TOML file operators edit, and the resolved snapshot a case runs on.

`load_policy` reads and validates the file (the shipped `default_policy.toml` when no path is
given) and is the only function in `cases` that touches the file system. `Policy.snapshot`
resolves it, at the moment a case opens, into a `PolicySnapshot`: every duration parsed and the
business calendar frozen to plain dates. The snapshot goes into the case's history, so editing
the policy file later never changes, or breaks the replay of, a case already running. The
snapshot's methods answer the workflow's questions (targets for a case, start level, approval,
follow-up) as pure functions of their arguments.
"""

from __future__ import annotations

import hashlib
import tomllib
from datetime import datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from cases.clocks.calendar import BusinessCalendar, CalendarSettings
from cases.clocks.durations import Duration, DurationText, parse_duration
from cases.clocks.specs import CLOCKS, HANDLING_CLOCKS, NEXT_REPLY_TARGETS, PLAIN_CLOCKS, TIER_TARGETS
from cases.fulfilment.policy import (
    DEFAULT_FULFILMENT,
    ConversationSettings,
    FulfilmentSettings,
    FulfilmentSnapshot,
    RepairSettings,
    ReturnSettings,
)
from cases.models import Category, ClockName, CustomerTier, ResolutionType, Tier
from cases.platform.policy import PlatformSettings, PlatformSnapshot
from cases.policy.approval import ApprovalSettings
from cases.policy.intake import DEFAULT_INTAKE, IntakeSettings, IntakeSnapshot, RoutingSettings, SignalSettings
from cases.policy.sections import EscalationSettings, Overrides

DEFAULT_POLICY_RESOURCE = "default_policy.toml"


ClockTargets = dict[ClockName, DurationText]


class PolicyError(Exception):
    """The policy file is missing, unreadable or invalid. The message is one line."""


class _Strict(BaseModel):
    # A misspelt key in a hand-edited file must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid")


class Policy(_Strict):
    """The policy file as written. Durations are still text; see `snapshot`."""

    warning_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.8
    complex_amount_threshold: Annotated[Decimal, Field(gt=0)] = Decimal("5000")
    targets: dict[Tier, ClockTargets]
    overrides: Overrides = Overrides()
    escalation: EscalationSettings = EscalationSettings()
    approval: ApprovalSettings = ApprovalSettings()
    confirmation_window: DurationText = "72h"
    survey_timeout: DurationText = "7d"
    follow_up_delay: DurationText = "7d"
    follow_up_window: DurationText = "3d"
    follow_up_sample_rate: Annotated[float, Field(ge=0, le=1)] = 0.15
    follow_up_always_tiers: list[Tier] = [Tier.URGENT, Tier.COMPLEX]
    follow_up_always_customers: list[CustomerTier] = [CustomerTier.VIP]
    low_rating_threshold: Annotated[int, Field(ge=0, le=5)] = 2
    calendar: CalendarSettings = CalendarSettings()
    returns: ReturnSettings = ReturnSettings()
    repair: RepairSettings = RepairSettings()
    conversation: ConversationSettings = ConversationSettings()
    signals: SignalSettings = SignalSettings()
    routing: RoutingSettings = RoutingSettings()
    platform: PlatformSettings = PlatformSettings()
    # Targets of clocks that have no section of their own: `[clocks]`, one duration each.
    clocks: dict[ClockName, DurationText] = {}

    @model_validator(mode="after")
    def _every_plain_clock_has_its_target(self) -> Policy:
        for name in self.clocks:
            if CLOCKS[name].policy_key != f"clocks.{name.value}":
                raise ValueError(f"clocks.{name.value}: set it at {CLOCKS[name].policy_key} instead")
        for name in PLAIN_CLOCKS:
            if self.clock_target(name) is None:
                raise ValueError(f"{CLOCKS[name].policy_key}: the target of clock {name.value} is missing")
        return self

    def clock_target(self, name: ClockName) -> str | None:
        """The target text of a clock whose target is one duration: the file's, else its spec's."""
        spec = CLOCKS[name]
        found = self.setting(spec.policy_key)
        return found if isinstance(found, str) else spec.default

    def setting(self, key: str) -> object:
        """The value at a dotted key of the file (`returns.window`), or None."""
        found: object = self
        for part in key.split("."):
            if isinstance(found, BaseModel):
                found = getattr(found, part, None)
            elif isinstance(found, dict):
                found = found.get(part)
            else:
                return None
        return found

    @field_validator("targets")
    @classmethod
    def _every_tier_every_clock(
        cls, targets: dict[Tier, dict[ClockName, str]]
    ) -> dict[Tier, dict[ClockName, str]]:
        missing_tiers = [t.value for t in Tier if t not in targets]
        if missing_tiers:
            raise ValueError(f"missing tier(s) {', '.join(missing_tiers)}")
        for tier, clocks in targets.items():
            missing = [c.value for c in HANDLING_CLOCKS if c not in clocks]
            if missing:
                raise ValueError(f"{tier.value}: missing clock(s) {', '.join(missing)}")
            if ClockName.APPROVAL in clocks:
                raise ValueError(
                    f"{tier.value}: approval is not a tier target; set [approval] target instead"
                )
        return targets

    def snapshot(self, opened_at: datetime) -> PolicySnapshot:
        """Resolve the policy for a case opened at `opened_at` (an aware datetime)."""
        if opened_at.tzinfo is None or opened_at.utcoffset() is None:
            raise ValueError(f"opened_at must be timezone-aware, got {opened_at.isoformat()}")
        # A year back covers reclassification from the open time; two ahead cover long clocks
        # and follow-ups of cases opened in late December.
        year = opened_at.astimezone(ZoneInfo(self.calendar.timezone)).year
        calendar = self.calendar.resolve(range(year - 1, year + 3))
        day = calendar.working_day_seconds

        def d(text: str) -> Duration:
            return parse_duration(text, day)

        def table(
            source: dict[Any, dict[ClockName, str]],
        ) -> dict[Any, dict[ClockName, Duration]]:
            return {
                key: {clock: d(text) for clock, text in clocks.items()}
                for key, clocks in source.items()
            }

        return PolicySnapshot(
            warning_fraction=self.warning_fraction,
            complex_amount_threshold=self.complex_amount_threshold,
            targets=table(self.targets),
            customer_overrides=table(self.overrides.customer),
            category_overrides=table(self.overrides.category),
            escalation=self.escalation.model_copy(deep=True),
            approval_threshold=self.approval.threshold,
            approval_target=d(self.approval.target),
            approval_always_for_tiers=list(self.approval.always_for_tiers),
            approval_amount_types=list(self.approval.amount_types),
            approval_levels=self.approval.levels.limits(),
            confirmation_window=d(self.confirmation_window),
            survey_timeout=d(self.survey_timeout),
            follow_up_delay=d(self.follow_up_delay),
            follow_up_window=d(self.follow_up_window),
            follow_up_sample_rate=self.follow_up_sample_rate,
            follow_up_always_tiers=list(self.follow_up_always_tiers),
            follow_up_always_customers=list(self.follow_up_always_customers),
            low_rating_threshold=self.low_rating_threshold,
            calendar=calendar,
            fulfilment=FulfilmentSettings(
                returns=self.returns, repair=self.repair, conversation=self.conversation
            ).snapshot(day),
            intake=IntakeSettings(signals=self.signals, routing=self.routing).snapshot(day),
            clocks={name: d(str(self.clock_target(name))) for name in PLAIN_CLOCKS},
            platform=self.platform.snapshot(day),
        )


def _tighter(current: Duration, override: Duration) -> Duration:
    # Seconds of wall-clock time and seconds of working time are not comparable, so a
    # different-kind override is taken as the operator's explicit choice.
    if current.business != override.business:
        return override
    return override if override.seconds < current.seconds else current


class PolicySnapshot(BaseModel):
    """The resolved policy in force for one case, stored in its history at start."""

    model_config = ConfigDict(frozen=True)

    warning_fraction: float
    complex_amount_threshold: Decimal
    targets: dict[Tier, dict[ClockName, Duration]]
    customer_overrides: dict[CustomerTier, dict[ClockName, Duration]] = {}
    category_overrides: dict[Category, dict[ClockName, Duration]] = {}
    escalation: EscalationSettings
    approval_threshold: Decimal
    # Also in `clocks`, which this build reads; kept for a 1.0 build that takes over a case this
    # build opened (a roll-back), as are the fulfilment snapshot's windows.
    approval_target: Duration
    approval_always_for_tiers: list[Tier]
    approval_amount_types: list[ResolutionType]
    # Role -> the most it may approve (None: any amount). Absent from snapshots captured before
    # approval levels existed: those cases keep the rules they started with (no role needed).
    approval_levels: dict[str, Decimal | None] | None = None
    confirmation_window: Duration
    survey_timeout: Duration
    follow_up_delay: Duration
    follow_up_window: Duration
    follow_up_sample_rate: float
    follow_up_always_tiers: list[Tier]
    follow_up_always_customers: list[CustomerTier]
    low_rating_threshold: int
    calendar: BusinessCalendar
    # Snapshots taken before returns and repairs had their own legs decode with the defaults.
    fulfilment: FulfilmentSnapshot = DEFAULT_FULFILMENT
    intake: IntakeSnapshot = DEFAULT_INTAKE
    # The target of every clock whose target is one duration (`cases/clocks/specs.py`).
    clocks: dict[ClockName, Duration] = {}
    # The law's day counts and the platform's rules; None in a snapshot taken before buyer
    # requests existed, whose case never takes one.
    platform: PlatformSnapshot | None = None

    @model_validator(mode="before")
    @classmethod
    def _targets_of_a_1_0_snapshot(cls, data: Any) -> Any:
        # A 1.0 snapshot (carried by a case that moved onto a later build) holds these targets
        # in fields of their own.
        if not isinstance(data, dict) or "clocks" in data or "approval_target" not in data:
            return data
        f = data.get("fulfilment") or DEFAULT_FULFILMENT
        f = f if isinstance(f, dict) else f.model_dump()
        legacy = {
            ClockName.APPROVAL: data["approval_target"], ClockName.RETURN_WINDOW: f["return_window"],
            ClockName.RETURN_TRANSIT: f["return_transit"], ClockName.INSPECTION: f["inspection_window"],
            ClockName.REPAIR: f["repair_response"],
        }
        return data | {"clocks": legacy}

    def target(
        self, name: ClockName, tier: Tier, category: Category, customer_tier: CustomerTier
    ) -> Duration | None:
        """The target of clock `name` for a case of this tier, category and customer tier; None
        for a clock added after this snapshot was taken (the case keeps the rules it opened on)."""
        key = CLOCKS[name].policy_key
        if key == TIER_TARGETS:
            return self.targets_for(tier, category, customer_tier)[name]
        if key == NEXT_REPLY_TARGETS:
            return self.fulfilment.next_reply_target(tier, customer_tier)
        return self.clocks.get(name)

    def targets_for(
        self, tier: Tier, category: Category, customer_tier: CustomerTier
    ) -> dict[ClockName, Duration]:
        """The tier's targets, tightened by the category and then the customer-tier overrides."""
        result = dict(self.targets[tier])
        for overrides in (
            self.category_overrides.get(category, {}),
            self.customer_overrides.get(customer_tier, {}),
        ):
            for clock, override in overrides.items():
                current = result.get(clock)
                result[clock] = override if current is None else _tighter(current, override)
        return result

    def start_level(self, tier: Tier) -> int:
        return self.escalation.start_level[tier]

    def supervisor(self, level: int) -> str:
        return self.escalation.supervisors[self._known_level(level)]

    def level_name(self, level: int) -> str:
        return self.escalation.levels[self._known_level(level)]

    def _known_level(self, level: int) -> int:
        if level not in self.escalation.levels:
            known = ", ".join(str(n) for n in sorted(self.escalation.levels))
            raise ValueError(f"unknown escalation level {level} (levels are {known})")
        return level

    def needs_approval(self, tier: Tier, resolution_type: ResolutionType, amount: Decimal) -> bool:
        if tier in self.approval_always_for_tiers:
            return True
        return resolution_type in self.approval_amount_types and amount > self.approval_threshold

    def in_follow_up_sample(self, case_id: str) -> bool:
        """Deterministic sampling: the same case id is always in or out, on every replay."""
        bucket = int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) % 10000
        return bucket < round(self.follow_up_sample_rate * 10000)

    def follow_up_reason(
        self, case_id: str, tier: Tier, customer_tier: CustomerTier
    ) -> str | None:
        """Why this case gets a follow-up (回访): "tier", the customer tier, "sample", or None."""
        if tier in self.follow_up_always_tiers:
            return "tier"
        if customer_tier in self.follow_up_always_customers:
            return customer_tier.value
        if self.in_follow_up_sample(case_id):
            return "sample"
        return None


def _describe(error: ErrorDetails) -> str:
    loc = [str(part) for part in error["loc"]]
    bad_key = bool(loc) and loc[-1] == "[key]"
    if bad_key:
        loc = loc[:-1]
    where = ".".join(loc) or "policy"
    kind = error["type"]
    if kind == "value_error":
        what = str(error.get("ctx", {}).get("error", error["msg"]))
    elif kind == "extra_forbidden":
        what = "unknown key (check the spelling against the shipped default_policy.toml)"
    elif kind == "missing":
        what = "required but missing"
    else:
        what = error["msg"]
        value = error.get("input")
        if not isinstance(value, dict | list):
            what = f"{what}, got {value!r}"
    if bad_key:
        what = f"not a valid key: {what}"
    return f"{where}: {what}"


def describe_problems(error: ValidationError) -> str:
    """The first problem of a policy-shaped file in one line, and how many more there are."""
    problems = error.errors()
    message = _describe(problems[0])
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem(s))"
    return message


def _policy_error(source: str, error: ValidationError) -> PolicyError:
    return PolicyError(f"policy {source}: {describe_problems(error)}")


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a policy file; None means the shipped default. The only I/O in `cases`."""
    if path is None:
        source = f"cases/{DEFAULT_POLICY_RESOURCE} (shipped default)"
        try:
            raw = resources.files("cases").joinpath(DEFAULT_POLICY_RESOURCE).read_bytes()
        except OSError as e:
            raise PolicyError(f"policy {source}: cannot read ({e.strerror or e})") from None
    else:
        path = Path(path)
        source = str(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise PolicyError(f"policy {source}: file not found") from None
        except OSError as e:
            raise PolicyError(f"policy {source}: cannot read ({e.strerror or e})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyError(f"policy {source}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"policy {source}: TOML syntax error: {e}") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        raise _policy_error(source, e) from None


# Cases opened under the same policy carry equal snapshots; a worker keeps thousands of cases
# in its cache, so they share one immutable instance instead of one copy each.
_SHARED_SNAPSHOTS: dict[str, PolicySnapshot] = {}
_SHARED_LIMIT = 64


def shared_snapshot(snapshot: PolicySnapshot) -> PolicySnapshot:
    """The one shared instance equal to `snapshot` (frozen, so sharing is safe)."""
    key = snapshot.model_dump_json()
    found = _SHARED_SNAPSHOTS.get(key)
    if found is None:
        if len(_SHARED_SNAPSHOTS) >= _SHARED_LIMIT:
            _SHARED_SNAPSHOTS.pop(next(iter(_SHARED_SNAPSHOTS)))
        _SHARED_SNAPSHOTS[key] = found = snapshot
    return found
