"""The service report against the embedded PostgreSQL: every figure equals one worked out by hand.

The fixture is 20 cases across the three tiers and six categories, opened in January 2025, with
their SLA clocks, plus two cases just outside the period that must not count. A second fixture,
opened in June 2024, holds the return, inspection, repair and next-reply legs with their audit
events. Rows go straight into `cases`, `sla_clocks`, `case_events` and `case_routing` inside a
transaction that is rolled back, under a case-id prefix unique to the run, so other tests' rows
(opened "now") and this test's rows never meet. Each expected number below is computed by hand
in the comments next to it. The HTML page is checked for embedded charts and for the absence of
any URL, and, when Debian's chromium is installed, opened headless and photographed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import shutil
import struct
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from activities.schema import migrate
from devstack.postgres import EmbeddedPostgres
from reports.service.command import add_report_parser, parse_period, run_report
from reports.service.figures import GroupFigures, Report, ReportError
from reports.service.html import render_html
from reports.service.query import build_report
from reports.service.render import render_json, render_text
from runtime.errors import UserError
from runtime.settings import Settings

SINCE = datetime(2025, 1, 1, tzinfo=UTC)
UNTIL = datetime(2025, 2, 1, tzinfo=UTC)
CHROMIUM = Path("/usr/bin/chromium")

CLOCKS = {
    "FR": "first_response",
    "IH": "initial_handling",
    "RES": "resolution",
    "CL": "closure",
    "APP": "approval",
    "RW": "return_window",
    "INS": "inspection",
    "REP": "repair",
    "NR": "next_reply",
}

# Clock outcomes: met = met in time; late = breached, then met; breached = breached, never met;
# running / paused = no verdict yet; stopped = stopped unmet (withdrawal or reopen), no verdict.
# A digit after the clock is the round (a reopened case starts round 1); `.n` after that is the
# turn of a clock that runs once per customer message (NR.1 is round 0's second next reply).
#
# Fields: id, tier, category, status, first response (minutes after opening), resolution type,
# rating, follow-up reason (= required), follow-up outcome, escalations, reopens, clocks.
CASES: list[tuple[Any, ...]] = [
    ("U1", "urgent", "safety", "closed", 10, "refund", 5, "urgent", "satisfied", 0, 0,
     "FR:met RES:met APP:met CL:met"),
    ("U2", "urgent", "safety", "closed", 30, "repair", 4, "urgent", "satisfied", 1, 0,
     "FR:met RES:late APP:met CL:met"),
    ("U3", "urgent", "product_quality", "awaiting_rating", 50, "exchange", None, None, None, 0, 0,
     "FR:met RES:met APP:late"),
    ("U4", "urgent", "safety", "withdrawn", 660, None, None, None, None, 2, 0,
     "FR:late RES:stopped"),
    ("U5", "urgent", "product_quality", "acknowledged", 20, None, None, None, None, 1, 1,
     "FR:met FR1:met RES:stopped RES1:running"),
    ("C1", "complex", "product_quality", "closed", 120, "refund", 3, "complex", "unsatisfied", 0, 0,
     "FR:met RES:met APP:met CL:met"),
    ("C2", "complex", "billing", "closed", 240, "compensation", 4, "complex", "satisfied", 0, 0,
     "FR:met RES:met CL:late"),
    ("C3", "complex", "product_quality", "follow_up", 360, "repair", 5, "complex", None, 0, 0,
     "FR:met RES:met"),
    ("C4", "complex", "billing", "awaiting_confirmation", 60, "refund", None, None, None, 1, 0,
     "FR:met RES:met APP:late CL:running"),
    ("C5", "complex", "logistics", "registered", None, None, None, None, None, 1, 0,
     "FR:breached RES:breached"),
    ("C6", "complex", "product_quality", "closed", 1800, "exchange", 1, "complex+low_rating",
     "satisfied", 2, 1, "FR:late FR1:met RES:met RES1:met CL1:met"),
    ("G1", "general", "logistics", "closed", 60, "refund", 5, None, None, 0, 0,
     "FR:met RES:met CL:met"),
    ("G2", "general", "logistics", "closed", 180, "explanation", 4, "sample", "satisfied", 0, 0,
     "FR:met RES:met CL:met"),
    ("G3", "general", "description_mismatch", "closed", 420, "exchange", 5, None, None, 0, 0,
     "FR:met RES:met CL:met"),
    ("G4", "general", "description_mismatch", "closed", 480, "compensation", 2, "low_rating",
     "unreachable", 1, 0, "FR:met RES:late CL:met"),
    ("G5", "general", "service_attitude", "withdrawn", None, None, None, None, None, 0, 0,
     "FR:stopped RES:stopped"),
    ("G6", "general", "service_attitude", "closed", 120, "explanation", 4, None, None, 0, 0,
     "FR:met RES:met CL:met"),
    ("G7", "general", "billing", "awaiting_rating", 600, "refund", None, None, None, 0, 0,
     "FR:met RES:met APP:met"),
    ("G8", "general", "logistics", "acknowledged", 1560, None, None, None, None, 1, 0,
     "FR:late RES:breached"),
    ("G9", "general", "description_mismatch", "awaiting_customer", 30, None, None, None, None, 0, 0,
     "FR:met IH:running RES:running CL:paused"),
]

# Outside [SINCE, UNTIL): one second before, and exactly at the exclusive end. Every figure
# they carry would show if the period filter leaked.
OUTSIDE: list[tuple[datetime, tuple[Any, ...]]] = [
    (SINCE - timedelta(seconds=1),
     ("X1", "urgent", "safety", "closed", 5, "refund", 1, "urgent", None, 3, 1, "FR:breached")),
    (UNTIL,
     ("X2", "general", "other", "closed", 9000, None, 1, "sample", None, 4, 2, "RES:breached")),
]

# ---------------------------------------------------------------------------------------------
# Expected figures, by hand.
#
# First response minutes (cases with one), sorted:
#   urgent  U1 10, U5 20, U2 30, U3 50, U4 660                      n=5
#   complex C4 60, C1 120, C2 240, C3 360, C6 1800                  n=5 (C5 none)
#   general G9 30, G1 60, G6 120, G2 180, G3 420, G4 480, G7 600, G8 1560   n=8 (G5 none)
#   all     10 20 30 30 50 60 60 120 120 180 240 360 420 480 600 660 1560 1800   n=18
# percentile_cont(p): position p*(n-1) in the sorted list, linear between neighbours.
#   urgent  p50 pos 2 -> 30 min = 1800 s; p90 pos 3.6 -> 50 + 0.6*(660-50) = 416 min = 24960 s
#   complex p50 pos 2 -> 240 min = 14400 s; p90 pos 3.6 -> 360 + 0.6*(1800-360) = 1224 min = 73440 s
#   general p50 pos 3.5 -> (180+420)/2 = 300 min = 18000 s;
#           p90 pos 6.3 -> 600 + 0.3*(1560-600) = 888 min = 53280 s
#   all     p50 pos 8.5 -> (120+180)/2 = 150 min = 9000 s;
#           p90 pos 15.3 -> 660 + 0.3*(1560-660) = 930 min = 55800 s
# By category, n values -> p50 / p90 (p90 at position 0.9*(n-1)):
#   safety (U1 10, U2 30, U4 660): p50 30 min = 1800 s;
#           p90 pos 1.8 -> 30 + 0.8*630 = 534 min = 32040 s
#   product_quality (20 50 120 360 1800): p50 120 min = 7200 s;
#           p90 pos 3.6 -> 360 + 0.6*1440 = 1224 min = 73440 s
#   billing (60 240 600): p50 240 min = 14400 s;
#           p90 pos 1.8 -> 240 + 0.8*360 = 528 min = 31680 s
#   logistics (60 180 1560; C5 none): p50 180 min = 10800 s;
#           p90 pos 1.8 -> 180 + 0.8*1380 = 1284 min = 77040 s
#   description_mismatch (30 420 480): p50 420 min = 25200 s;
#           p90 pos 1.8 -> 420 + 0.8*60 = 468 min = 28080 s
#   service_attitude (120; G5 none)    p50 = p90 = 120 min = 7200 s
#
# resolved = resolution executed; handled = closed, withdrawn or resolution executed.
#   unresolved: U4 (withdrawn: handled), U5, C5, G5 (withdrawn: handled), G8, G9
#   all: resolved 20-6 = 14, handled 14 + U4 + G5 = 16
# ratings: U1 5, U2 4, C1 3, C2 4, C3 5, C6 1, G1 5, G2 4, G3 5, G4 2, G6 4 -> 11, sum 42
#   satisfied (>= 4): U1 U2 C2 C3 G1 G2 G3 G6 = 8 -> 8/11 = 72.7 % < 90 %: target missed
# follow-ups required: U1 U2 C1 C2 C3 C6 G2 G4 = 8; with an outcome: all but C3 = 7
# escalated: U2 1, U4 2, U5 1, C4 1, C5 1, C6 2, G4 1, G8 1 -> 8 cases, 10 escalations
# reopened: U5, C6 = 2
#
# Columns: cases, responded, p50 s, p90 s, resolved, handled, rated, csat mean, satisfied,
#          ratings 1..5, follow-ups required, done, escalated cases, escalations, reopened
EXPECTED: dict[str, tuple[Any, ...]] = {
    "all": (20, 18, 9000.0, 55800.0, 14, 16, 11, 42 / 11, 8, (1, 1, 1, 4, 4), 8, 7, 8, 10, 2),
    # U1..U5: resolved U1 U2 U3; handled + U4; ratings 5 4 (mean 4.5); f-u U1 U2 both done;
    # escalated U2 U4 U5 = 1+2+1; reopened U5
    "urgent": (5, 5, 1800.0, 24960.0, 3, 4, 2, 4.5, 2, (0, 0, 0, 1, 1), 2, 2, 3, 4, 1),
    # C1..C6: resolved all but C5; ratings 3 4 5 1 (13/4 = 3.25), satisfied C2 C3;
    # f-u C1 C2 C3 C6, done C1 C2 C6; escalated C4 C5 C6 = 1+1+2; reopened C6
    "complex": (6, 5, 14400.0, 73440.0, 5, 5, 4, 3.25, 2, (1, 0, 1, 1, 1), 4, 3, 3, 4, 1),
    # G1..G9: resolved G1 G2 G3 G4 G6 G7; handled + G5; ratings 5 4 5 2 4 (20/5 = 4.0),
    # satisfied 4; f-u G2 G4 both done; escalated G4 G8; none reopened
    "general": (9, 8, 18000.0, 53280.0, 6, 7, 5, 4.0, 4, (0, 1, 0, 2, 2), 2, 2, 2, 2, 0),
    # U1 U2 U4
    "safety": (3, 3, 1800.0, 32040.0, 2, 3, 2, 4.5, 2, (0, 0, 0, 1, 1), 2, 2, 2, 3, 0),
    # U3 U5 C1 C3 C6: ratings 3 5 1 (mean 3.0); f-u C1 C3 C6, done C1 C6; esc U5 1 + C6 2
    "product_quality": (5, 5, 7200.0, 73440.0, 4, 4, 3, 3.0, 1, (1, 0, 1, 0, 1), 3, 2, 2, 3, 2),
    # C2 C4 G7
    "billing": (3, 3, 14400.0, 31680.0, 3, 3, 1, 4.0, 1, (0, 0, 0, 1, 0), 1, 1, 1, 1, 0),
    # C5 G1 G2 G8
    "logistics": (4, 3, 10800.0, 77040.0, 2, 2, 2, 4.5, 2, (0, 0, 0, 1, 1), 1, 1, 2, 2, 0),
    # G3 G4 G9
    "description_mismatch": (
        3, 3, 25200.0, 28080.0, 2, 2, 2, 3.5, 1, (0, 1, 0, 0, 1), 1, 1, 1, 1, 0
    ),
    # G5 G6
    "service_attitude": (2, 1, 7200.0, 7200.0, 1, 2, 1, 4.0, 1, (0, 0, 0, 1, 0), 0, 0, 0, 0, 0),
}

# Rates from the counts above: resolution, handling, satisfied share, CSAT target met,
# follow-up, escalated share, reopen.
EXPECTED_RATES: dict[str, tuple[Any, ...]] = {
    "all": (14 / 20, 16 / 20, 8 / 11, False, 7 / 8, 8 / 20, 2 / 20),
    "urgent": (3 / 5, 4 / 5, 1.0, True, 1.0, 3 / 5, 1 / 5),
    "complex": (5 / 6, 5 / 6, 2 / 4, False, 3 / 4, 3 / 6, 1 / 6),
    "general": (6 / 9, 7 / 9, 4 / 5, False, 1.0, 2 / 9, 0.0),
    "safety": (2 / 3, 1.0, 1.0, True, 1.0, 2 / 3, 0.0),
    "product_quality": (4 / 5, 4 / 5, 1 / 3, False, 2 / 3, 2 / 5, 2 / 5),
    "billing": (1.0, 1.0, 1.0, True, 1.0, 1 / 3, 0.0),
    "logistics": (2 / 4, 2 / 4, 1.0, True, 1.0, 2 / 4, 0.0),
    "description_mismatch": (2 / 3, 2 / 3, 1 / 2, False, 1.0, 1 / 3, 0.0),
    # no follow-up was required: no rate at all, rather than 0 %
    "service_attitude": (1 / 2, 1.0, 1.0, True, None, 0.0, 0.0),
}

# Clocks: (decided, on time). Decided = met or breached; running, paused, stopped do not count.
#   FR  urgent  U1 U2 U3 U5 U5' met, U4 late                         -> 6, 5
#       complex C1 C2 C3 C4 C6' met, C5 breached, C6 late             -> 7, 5
#       general G1 G2 G3 G4 G6 G7 G9 met, G8 late, (G5 stopped)        -> 8, 7
#   RES urgent  U1 U3 met, U2 late, (U4 U5 stopped, U5' running)      -> 3, 2
#       complex C1 C2 C3 C4 C6 C6' met, C5 breached                   -> 7, 6
#       general G1 G2 G3 G6 G7 met, G4 late, G8 breached, (G5, G9)    -> 7, 5
#   APP urgent U1 U2 met, U3 late -> 3, 2; complex C1 met, C4 late -> 2, 1; general G7 met -> 1, 1
#   CL  urgent U1 U2 -> 2, 2; complex C1 C6' met, C2 late, (C4 running) -> 3, 2;
#       general G1 G2 G3 G4 G6 met, (G9 paused) -> 5, 5
#   IH  only G9, running -> 0 decided, in all / general / description_mismatch
EXPECTED_CLOCKS: dict[str, dict[str, tuple[int, int]]] = {
    "all": {"first_response": (21, 17), "initial_handling": (0, 0), "resolution": (17, 13),
            "closure": (10, 9), "approval": (6, 4)},
    "urgent": {"first_response": (6, 5), "resolution": (3, 2), "closure": (2, 2),
               "approval": (3, 2)},
    "complex": {"first_response": (7, 5), "resolution": (7, 6), "closure": (3, 2),
                "approval": (2, 1)},
    "general": {"first_response": (8, 7), "initial_handling": (0, 0), "resolution": (7, 5),
                "closure": (5, 5), "approval": (1, 1)},
    # U1 U2 met, U4 late | U1 met, U2 late | U1 U2 | U1 U2
    "safety": {"first_response": (3, 2), "resolution": (2, 1), "closure": (2, 2),
               "approval": (2, 2)},
    # FR: U3 U5 U5' C1 C3 C6' met, C6 late | RES: U3 C1 C3 C6 C6' met | CL: C1 C6'
    # APP: C1 met, U3 late
    "product_quality": {"first_response": (7, 6), "resolution": (5, 5), "closure": (2, 2),
                        "approval": (2, 1)},
    # FR, RES: C2 C4 G7 met | CL: C2 late, C4 running | APP: G7 met, C4 late
    "billing": {"first_response": (3, 3), "resolution": (3, 3), "closure": (1, 0),
                "approval": (2, 1)},
    # FR: G1 G2 met, C5 breached, G8 late | RES: G1 G2 met, C5 G8 breached | CL: G1 G2
    "logistics": {"first_response": (4, 2), "resolution": (4, 2), "closure": (2, 2)},
    # FR: G3 G4 G9 | RES: G3 met, G4 late, G9 running | CL: G3 G4 met, G9 paused | IH: G9 running
    "description_mismatch": {"first_response": (3, 3), "initial_handling": (0, 0),
                             "resolution": (2, 1), "closure": (2, 2)},
    # FR: G6 met, G5 stopped | RES: G6 met, G5 stopped | CL: G6
    "service_attitude": {"first_response": (1, 1), "resolution": (1, 1), "closure": (1, 1)},
}

# The roster's row in case_routing for some of the cases: status, whether the case was ever placed
# in a queue (first_queued_at set), minutes from opening to the first assignment (None: never
# assigned), and queue_seconds. C1 was taken by hand before it was ever placed, so it is routed
# and assigned but not queued; C5 is still waiting, and the wait under way is not in its
# queue_seconds yet. Every other case has no row and must count in no routing figure.
ROUTING: dict[str, tuple[str, bool, int | None, float]] = {
    "U1": ("assigned", True, 5, 0.0),
    "U2": ("assigned", True, 15, 600.0),
    "U3": ("released", True, None, 1200.0),
    "C1": ("assigned", False, 30, 0.0),
    "C2": ("assigned", True, 60, 3600.0),
    "C5": ("queued", True, None, 0.0),
    "G1": ("assigned", True, 10, 600.0),
    "G5": ("released", True, None, 1800.0),
    "G7": ("assigned", True, 90, 3600.0),
    # Outside the period: figures far off every expected one, should the period filter leak.
    "X1": ("assigned", True, 10000, 99999.0),
    "X2": ("released", True, None, 88888.0),
}

# Routing, by hand: percentile_cont as above, position p*(n-1) in the sorted values.
#   time to assignment (minutes), assigned cases:
#     urgent U1 5, U2 15: p50 10 min = 600 s; p90 pos 0.9 -> 5 + 0.9*10 = 14 min = 840 s
#     complex C1 30, C2 60: p50 45 min = 2700 s; p90 30 + 0.9*30 = 57 min = 3420 s
#     general G1 10, G7 90: p50 50 min = 3000 s; p90 10 + 0.9*80 = 82 min = 4920 s
#     all 5 10 15 30 60 90: p50 pos 2.5 -> 22.5 min = 1350 s; p90 pos 4.5 -> 75 min = 4500 s
#   queue seconds, queued cases (C1 is not one; were it counted, complex's p50 would be 0):
#     urgent 0 600 1200: p50 600; p90 pos 1.8 -> 600 + 0.8*600 = 1080
#     complex C5 0, C2 3600: p50 1800; p90 pos 0.9 -> 3240
#     general 600 1800 3600: p50 1800; p90 pos 1.8 -> 1800 + 0.8*1800 = 3240
#     all 0 0 600 600 1200 1800 3600 3600: p50 pos 3.5 -> 900; p90 pos 6.3 -> 3600
#   by category: safety U1 U2; product_quality U3 C1; billing C2 G7; logistics C5 G1;
#     service_attitude G5; description_mismatch has no routed case, so no figure at all.
# Columns: routed, assigned, assignment p50 s, p90 s, queued, queue p50 s, p90 s.
EXPECTED_ROUTING: dict[str, tuple[Any, ...]] = {
    "all": (9, 6, 1350.0, 4500.0, 8, 900.0, 3600.0),
    "urgent": (3, 2, 600.0, 840.0, 3, 600.0, 1080.0),
    "complex": (3, 2, 2700.0, 3420.0, 2, 1800.0, 3240.0),
    "general": (3, 2, 3000.0, 4920.0, 3, 1800.0, 3240.0),
    # U1 5, U2 15 | queue 0, 600: p50 300, p90 0 + 0.9*600 = 540
    "safety": (2, 2, 600.0, 840.0, 2, 300.0, 540.0),
    # C1 30 | U3 1200 alone
    "product_quality": (2, 1, 1800.0, 1800.0, 1, 1200.0, 1200.0),
    # C2 60, G7 90: p50 75 min = 4500 s, p90 60 + 0.9*30 = 87 min = 5220 s | 3600, 3600
    "billing": (2, 2, 4500.0, 5220.0, 2, 3600.0, 3600.0),
    # G1 10 alone | C5 0, G1 600
    "logistics": (2, 1, 600.0, 600.0, 2, 300.0, 540.0),
    "description_mismatch": (0, 0, None, None, 0, None, None),
    # G5 released unassigned | 1800 alone
    "service_attitude": (1, 0, None, None, 1, 1800.0, 1800.0),
}

_INSERT_CASE = """
INSERT INTO cases (case_id, workflow_id, order_id, customer_id, customer_tier, channel, category,
    tier, status, escalation_level, order_amount, currency, opened_at, first_response_at,
    resolved_at, closed_at, resolution_type, resolution_amount, rating, follow_up_reason,
    follow_up_outcome, reopen_count, escalations, sla_state, last_seq, state)
VALUES ($1, $2, 'order-1', 'cust-1', 'standard', 'app', $3, $4, $5, $6, 300.00, 'CNY', $7, $8,
    $9, $10, $11, $12, $13, $14, $15, $16, $17, 'met', 1, '{}'::jsonb)
"""

_INSERT_CLOCK = """
INSERT INTO sla_clocks (case_id, round, clock, turn, target_seconds, business, target_label,
    started_at, due_at, state, warned_at, breached_at, met_at, stopped_at, elapsed_seconds)
VALUES ($1, $2, $3, $4, 3600, false, '1h', $5, $6, $7, NULL, $8, $9, $10, NULL)
"""

_INSERT_ROUTING = """
INSERT INTO case_routing (case_id, workflow_id, team, agent_id, status, requirement, priority,
    queued_at, first_queued_at, assigned_at, first_assigned_at, released_at, queue_seconds)
VALUES ($1, $2, 'support', $3, $4, '{}'::jsonb, 1, $5, $6, $7, $7, $8, $9)
"""

_INSERT_EVENT = """
INSERT INTO case_events (case_id, seq, type, actor, at, data)
VALUES ($1, $2, $3, 'system', $4, $5::jsonb)
"""

# Audit events of the return leg: RA return_authorized, RL return_lapsed, and inspection_result
# IP passed, IF failed, IS passed because the warehouse stayed silent.
EVENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "RA": ("return_authorized", {"plan": "return_refund"}),
    "RL": ("return_lapsed", {}),
    "IP": ("inspection_result", {"result": "passed", "silent": False}),
    "IF": ("inspection_result", {"result": "failed", "silent": False}),
    "IS": ("inspection_result", {"result": "passed", "silent": True}),
}


async def insert_case(
    conn: asyncpg.Connection,
    case_id: str,
    opened_at: datetime,
    spec: tuple[Any, ...],
    events: str = "",
) -> None:
    (_, tier, category, status, fr, resolution, rating, fu_reason, fu_outcome, escalations,
     reopens, clocks) = spec
    hour = timedelta(hours=1)
    await conn.execute(
        _INSERT_CASE,
        case_id,
        f"case-{case_id}",
        category,
        tier,
        status,
        max(1, 3 - escalations),
        opened_at,
        opened_at + timedelta(minutes=fr) if fr is not None else None,
        opened_at + 40 * hour if resolution else None,
        opened_at + 200 * hour if status in ("closed", "withdrawn", "lapsed") else None,
        resolution,
        100 if resolution in ("refund", "compensation") else None,
        rating,
        fu_reason,
        fu_outcome,
        reopens,
        escalations,
    )
    for token in clocks.split():
        match = re.fullmatch(r"([A-Z]+)(\d?)(?:\.(\d))?:(\w+)", token)
        assert match is not None, token
        short, round_, turn, outcome = match[1], int(match[2] or 0), int(match[3] or 0), match[4]
        started = opened_at + round_ * 100 * hour + turn * 4 * hour
        due = started + hour
        breached = due if outcome in ("late", "breached") else None
        met = {"met": started + hour / 2, "late": started + 2 * hour}.get(outcome)
        stopped = started + 3 * hour if outcome == "stopped" else None
        state = {"late": "breached", "stopped": "running"}.get(outcome, outcome)
        await conn.execute(
            _INSERT_CLOCK, case_id, round_, CLOCKS[short], turn, started, due, state, breached,
            met, stopped,
        )
    rma = f"RMA-{case_id}-1"
    for seq, token in enumerate(events.split(), start=1):
        kind, data = EVENTS[token]
        await conn.execute(
            _INSERT_EVENT, case_id, seq, kind, opened_at + seq * hour,
            json.dumps({"rma": rma, **data}),
        )


async def insert_routing(conn: asyncpg.Connection, case_id: str, opened_at: datetime) -> None:
    status, queued, assigned_after, queue_seconds = ROUTING[case_id.rpartition("-")[2]]
    assigned_at = None if assigned_after is None else opened_at + timedelta(minutes=assigned_after)
    await conn.execute(
        _INSERT_ROUTING,
        case_id,
        f"case-{case_id}",
        "agent-1" if status == "assigned" else None,
        status,
        opened_at + timedelta(minutes=5) if status == "queued" else None,
        opened_at if queued else None,
        assigned_at,
        opened_at + timedelta(hours=3) if status == "released" else None,
        queue_seconds,
    )


async def insert_fixture(conn: asyncpg.Connection, prefix: str, since: datetime) -> None:
    offset = since - SINCE
    opened = [
        # Spread over the month, each at its own hour, so ordering never depends on ties.
        *((since + timedelta(days=i, hours=i % 7, minutes=i), spec) for i, spec in enumerate(CASES)),
        *((opened_at + offset, spec) for opened_at, spec in OUTSIDE),
    ]
    for opened_at, spec in opened:
        await insert_case(conn, f"{prefix}{spec[0]}", opened_at, spec)
        if spec[0] in ROUTING:
            await insert_routing(conn, f"{prefix}{spec[0]}", opened_at)


@pytest.fixture
async def report(conn: asyncpg.Connection) -> Report:
    await insert_fixture(conn, f"rpt{uuid.uuid4().hex[:8]}-", SINCE)
    return await build_report(conn, SINCE, UNTIL)


def figures(g: GroupFigures) -> tuple[Any, ...]:
    return (
        g.cases, g.responded, g.first_response_p50_seconds, g.first_response_p90_seconds,
        g.resolved, g.handled, g.rated, g.csat_mean, g.satisfied,
        tuple(g.csat_distribution[r] for r in (1, 2, 3, 4, 5)),
        g.follow_ups_required, g.follow_ups_done, g.escalated_cases, g.escalations, g.reopened,
    )


def assert_figures(g: GroupFigures, expected: tuple[Any, ...], name: str = "") -> None:
    """Counts exactly; the percentiles and the mean to float precision (SQL computes them)."""
    got = figures(g)
    assert len(got) == len(expected), name
    for i, (value, want) in enumerate(zip(got, expected, strict=True)):
        if isinstance(want, float):
            assert value == pytest.approx(want, rel=1e-12), (name, i, value, want)
        else:
            assert value == want, (name, i, value, want)


def routing_figures(g: GroupFigures) -> tuple[Any, ...]:
    return (
        g.routed, g.assigned, g.assignment_p50_seconds, g.assignment_p90_seconds, g.queued,
        g.queue_p50_seconds, g.queue_p90_seconds,
    )


def assert_routing(g: GroupFigures, expected: tuple[Any, ...], name: str = "") -> None:
    got = routing_figures(g)
    for i, (value, want) in enumerate(zip(got, expected, strict=True)):
        if isinstance(want, float):
            assert value == pytest.approx(want, rel=1e-12), (name, i, value, want)
        else:
            assert value == want, (name, i, value, want)


def rates(g: GroupFigures) -> tuple[Any, ...]:
    return (
        g.resolution_rate, g.complaint_handling_rate, g.satisfied_share, g.csat_target_met,
        g.follow_up_rate, g.escalated_share, g.reopen_rate,
    )


def groups_of(report: Report) -> dict[str, GroupFigures]:
    return {"all": report.overall, **report.by_tier, **report.by_category}


# ---------------------------------------------------------------------------------------------
# Figures


async def test_fixture_has_twenty_cases_across_tiers_and_categories() -> None:
    assert len(CASES) >= 20
    assert {c[1] for c in CASES} == {"urgent", "complex", "general"}
    assert len({c[2] for c in CASES}) == 6


async def test_report_figures_equal_hand_computed(report: Report) -> None:
    assert list(report.by_tier) == ["urgent", "complex", "general"]
    # Categories with cases, in the order of the Category enum; `other` had none in the period.
    assert list(report.by_category) == [
        "product_quality", "logistics", "description_mismatch", "service_attitude", "safety",
        "billing",
    ]
    got = groups_of(report)
    assert set(got) == set(EXPECTED)
    for name, expected in EXPECTED.items():
        assert_figures(got[name], expected, name)
    for name, expected in EXPECTED_RATES.items():
        assert rates(got[name]) == pytest.approx(expected), name
    for name, expected_clocks in EXPECTED_CLOCKS.items():
        clocks = {c: (f.decided, f.on_time) for c, f in got[name].clocks.items()}
        assert clocks == expected_clocks, name
        assert list(got[name].clocks) == [c for c in CLOCKS.values() if c in expected_clocks]
    assert report.overall.clocks["first_response"].on_time_rate == pytest.approx(17 / 21)
    assert report.overall.clocks["initial_handling"].on_time_rate is None
    assert report.by_category["billing"].clocks["closure"].on_time_rate == 0.0
    # No case had a return: no return figures, and no rate rather than 0 %.
    assert return_figures(report.overall) == (0, 0, 0, 0, 0)
    assert (report.overall.lapse_rate, report.overall.inspection_failure_rate) == (None, None)


async def test_routing_figures_equal_hand_computed(report: Report) -> None:
    got = groups_of(report)
    assert set(EXPECTED_ROUTING) == set(got)
    for name, expected in EXPECTED_ROUTING.items():
        assert_routing(got[name], expected, name)
    assert report.overall.assigned_share == pytest.approx(6 / 9)
    assert report.by_category["service_attitude"].assigned_share == 0.0
    assert report.by_category["description_mismatch"].assigned_share is None
    # The routing join adds no row: every other figure is still the hand-computed one.
    for name, expected in EXPECTED.items():
        assert_figures(got[name], expected, name)


async def test_report_on_a_pool_reads_committed_rows_only(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    # The fixture's rows are uncommitted, so a report through the pool sees an empty period.
    await insert_fixture(conn, f"rpt{uuid.uuid4().hex[:8]}-", SINCE)
    seen_inside = await build_report(conn, SINCE, UNTIL)
    seen_outside = await build_report(pool, SINCE, UNTIL)
    assert seen_inside.overall.cases == 20
    assert seen_outside.overall.cases == 0


async def test_empty_period_has_no_rates(conn: asyncpg.Connection) -> None:
    empty = await build_report(
        conn, datetime(2001, 1, 1, tzinfo=UTC), datetime(2001, 2, 1, tzinfo=UTC)
    )
    assert empty.overall.cases == 0
    assert rates(empty.overall) == (None, None, None, None, None, None, None)
    assert (empty.overall.lapse_rate, empty.overall.inspection_failure_rate) == (None, None)
    assert empty.clock_labels == {}
    assert empty.overall.first_response_p50_seconds is None
    assert routing_figures(empty.overall) == (0, 0, None, None, 0, None, None)
    assert empty.overall.assigned_share is None
    assert empty.overall.clocks == {}
    assert list(empty.by_tier) == ["urgent", "complex", "general"]
    assert all(g.cases == 0 for g in empty.by_tier.values())
    assert empty.by_category == {}


async def test_build_report_rejects_naive_or_empty_periods(conn: asyncpg.Connection) -> None:
    with pytest.raises(ReportError, match="time zone"):
        await build_report(conn, datetime(2025, 1, 1), UNTIL)
    with pytest.raises(ReportError, match="empty"):
        await build_report(conn, UNTIL, SINCE)


# ---------------------------------------------------------------------------------------------
# Returns, inspections, repairs and next replies (a second fixture, June 2024)

RETURNS_SINCE = datetime(2024, 6, 1, tzinfo=UTC)
RETURNS_UNTIL = datetime(2024, 7, 1, tzinfo=UTC)

# The fields of CASES, then the case's audit events (see EVENTS).
RETURN_CASES: list[tuple[tuple[Any, ...], str]] = [
    # Authorised, never shipped: the return window breached and the case lapsed.
    (("R1", "urgent", "product_quality", "lapsed", 10, None, None, None, None, 0, 0,
      "FR:met RES:stopped RW:breached NR:met NR.1:late"), "RA RL"),
    (("R2", "urgent", "product_quality", "closed", 20, "refund", 5, "urgent", "satisfied", 0, 0,
      "FR:met RW:met INS:met RES:met NR:met NR.1:met NR.2:met CL:met"), "RA IP"),
    # Failed inspection, back with the agent.
    (("R3", "complex", "product_quality", "acknowledged", 30, None, None, None, None, 1, 0,
      "FR:met RW:met INS:late RES:running NR:met"), "RA IF"),
    # Failed, sent back again, then passed: one case with a return, two inspections.
    (("R4", "complex", "logistics", "closed", 40, "exchange", 4, "complex", "satisfied", 0, 0,
      "FR:met RW:met INS:met RES:met NR:breached CL:met"), "RA IF RA IP"),
    (("R5", "general", "billing", "closed", 50, "repair", 4, None, None, 0, 0,
      "FR:met REP:met RES:met CL:met NR:met NR.1:met"), ""),
    (("R6", "general", "logistics", "repairing", 60, None, None, None, None, 1, 0,
      "FR:met REP:late RES:running"), ""),
    (("R7", "general", "logistics", "lapsed", 70, None, None, None, None, 0, 0,
      "FR:met RW:breached RES:stopped"), "RA RL"),
    # The warehouse said nothing within the window and the policy passed the goods.
    (("R8", "general", "product_quality", "closed", 80, "refund", 3, "low_rating", "satisfied",
      0, 0, "FR:met RW:met INS:late RES:met CL:met"), "RA IS"),
    # Authorised, not shipped yet: in the denominator of the lapse rate, not the numerator.
    (("R9", "complex", "billing", "awaiting_return", 90, None, None, None, None, 0, 0,
      "FR:met RW:running RES:paused"), "RA"),
]

# Just outside the period, each with a lapse and a failed inspection that must not count.
RETURNS_OUTSIDE: list[tuple[datetime, tuple[Any, ...], str]] = [
    (RETURNS_SINCE - timedelta(seconds=1),
     ("XR1", "urgent", "product_quality", "lapsed", 5, None, None, None, None, 0, 0,
      "RW:breached NR:late NR.1:late"), "RA IF RA RL"),
    (RETURNS_UNTIL,
     ("XR2", "general", "logistics", "lapsed", 5, None, None, None, None, 0, 0,
      "RW:breached INS:breached REP:late"), "RA IF RA RL"),
]

# (returns authorised, lapsed, inspections, failed, silent passes), by hand:
#   returns: R1 R2 R3 R4 R7 R8 R9 = 7 cases (R4 counts once); lapsed R1 R7
#   inspections: R2 IP, R3 IF, R4 IF IP, R8 IS = 5; failed R3 R4; silent R8
EXPECTED_RETURNS: dict[str, tuple[int, int, int, int, int]] = {
    "all": (7, 2, 5, 2, 1),
    "urgent": (2, 1, 1, 0, 0),  # R1 R2
    "complex": (3, 0, 3, 2, 0),  # R3 R4 R9
    "general": (2, 1, 1, 0, 1),  # R7 R8 (R5 R6 repairs)
    "product_quality": (4, 1, 3, 1, 1),  # R1 R2 R3 R8
    "logistics": (2, 1, 2, 1, 0),  # R4 R7 (R6 a repair)
    "billing": (1, 0, 0, 0, 0),  # R9 (R5 a repair)
}
# (lapse rate, inspection failure rate); no inspections is no rate, not 0 %.
EXPECTED_RETURN_RATES: dict[str, tuple[float | None, float | None]] = {
    "all": (2 / 7, 2 / 5),
    "urgent": (1 / 2, 0.0),
    "complex": (0.0, 2 / 3),
    "general": (1 / 2, 0.0),
    "product_quality": (1 / 4, 1 / 3),
    "logistics": (1 / 2, 1 / 2),
    "billing": (0.0, None),
}
# (cases, resolved, handled). Lapsed cases are handled: R1 R7 with R2 R4 R5 R8 make 6 of 9;
# R3 (back with the agent), R6 (repairing) and R9 (awaiting the return) are not.
EXPECTED_HANDLED: dict[str, tuple[int, int, int]] = {
    "all": (9, 4, 6),
    "urgent": (2, 1, 2),
    "complex": (3, 1, 1),
    "general": (4, 2, 3),
    "product_quality": (4, 2, 3),
    "logistics": (3, 1, 2),
    "billing": (2, 1, 1),
}
# (decided, on time). RW: R1 R7 breached (lapsed), R9 running. INS: R3 R8 late. REP: R6 late.
# NR counts every turn: R1 met + late, R2 3 met, R3 met, R4 breached, R5 2 met -> 9 decided,
# 7 on time (5 and 4 if a case's turns counted once). RES: R1 R7 stopped, R3 R6 running,
# R9 paused.
EXPECTED_RETURN_CLOCKS: dict[str, dict[str, tuple[int, int]]] = {
    "all": {"first_response": (9, 9), "resolution": (4, 4), "closure": (4, 4),
            "return_window": (6, 4), "inspection": (4, 2), "repair": (2, 1),
            "next_reply": (9, 7)},
    "urgent": {"first_response": (2, 2), "resolution": (1, 1), "closure": (1, 1),
               "return_window": (2, 1), "inspection": (1, 1), "next_reply": (5, 4)},
    "complex": {"first_response": (3, 3), "resolution": (1, 1), "closure": (1, 1),
                "return_window": (2, 2), "inspection": (2, 1), "next_reply": (2, 1)},
    "general": {"first_response": (4, 4), "resolution": (2, 2), "closure": (2, 2),
                "return_window": (2, 1), "inspection": (1, 0), "repair": (2, 1),
                "next_reply": (2, 2)},
    "product_quality": {"first_response": (4, 4), "resolution": (2, 2), "closure": (2, 2),
                        "return_window": (4, 3), "inspection": (3, 1), "next_reply": (6, 5)},
    "logistics": {"first_response": (3, 3), "resolution": (1, 1), "closure": (1, 1),
                  "return_window": (2, 1), "inspection": (1, 1), "repair": (1, 0),
                  "next_reply": (1, 0)},
    "billing": {"first_response": (2, 2), "resolution": (1, 1), "closure": (1, 1),
                "return_window": (0, 0), "repair": (1, 1), "next_reply": (2, 2)},
}


def return_figures(g: GroupFigures) -> tuple[int, int, int, int, int]:
    return (g.returns_authorized, g.returns_lapsed, g.inspections, g.inspections_failed,
            g.inspections_silent)


@pytest.fixture
async def returns_report(conn: asyncpg.Connection) -> Report:
    prefix = f"rpr{uuid.uuid4().hex[:8]}-"
    for i, (spec, events) in enumerate(RETURN_CASES):
        opened_at = RETURNS_SINCE + timedelta(days=i, hours=i % 5)
        await insert_case(conn, f"{prefix}{spec[0]}", opened_at, spec, events)
    for opened_at, spec, events in RETURNS_OUTSIDE:
        await insert_case(conn, f"{prefix}{spec[0]}", opened_at, spec, events)
    return await build_report(conn, RETURNS_SINCE, RETURNS_UNTIL)


async def test_return_figures_equal_hand_computed(returns_report: Report) -> None:
    got = groups_of(returns_report)
    assert {name for name, g in got.items() if g.cases} == set(EXPECTED_RETURNS)
    for name, expected in EXPECTED_RETURNS.items():
        assert return_figures(got[name]) == expected, name
        lapse, failure = EXPECTED_RETURN_RATES[name]
        assert got[name].lapse_rate == pytest.approx(lapse), name
        assert got[name].inspection_failure_rate == pytest.approx(failure), name
        assert (got[name].cases, got[name].resolved, got[name].handled) == EXPECTED_HANDLED[name]
    assert returns_report.overall.complaint_handling_rate == pytest.approx(6 / 9)


async def test_new_clocks_count_every_turn(returns_report: Report) -> None:
    got = groups_of(returns_report)
    for name, expected_clocks in EXPECTED_RETURN_CLOCKS.items():
        clocks = {c: (f.decided, f.on_time) for c, f in got[name].clocks.items()}
        assert clocks == expected_clocks, name
        assert list(got[name].clocks) == [c for c in CLOCKS.values() if c in expected_clocks]
    assert returns_report.overall.clocks["next_reply"].on_time_rate == pytest.approx(7 / 9)
    assert returns_report.by_category["billing"].clocks["return_window"].on_time_rate is None
    assert returns_report.clock_labels == {
        "first_response": "first response", "resolution": "resolution",
        "closure": "complaint closure", "return_window": "return shipment",
        "inspection": "inspection", "repair": "repair response", "next_reply": "next reply",
    }


async def test_renderers_show_the_return_figures_and_clock_labels(returns_report: Report) -> None:
    lines = render_text(returns_report).splitlines()
    start = lines.index("On-time rate per SLA clock (on time / decided)") + 1
    assert lines[start].split("  ")[0] == "group"
    assert [h.strip() for h in lines[start].split("  ") if h.strip()] == [
        "group", "first response", "resolution", "complaint closure", "return shipment",
        "inspection", "repair response", "next reply",
    ]
    assert lines[start + 2].split()[-2:] == ["77.8%", "(7/9)"]  # next reply, all cases
    start = lines.index("Returns and inspections (lapsed / returns, failed / inspections)") + 1
    table = lines[start : start + 2 + 1 + 3 + 3]  # header, rule, all, 3 tiers, 3 categories
    assert len({len(line) for line in table}) == 1, "\n".join(table)
    assert table[2].split() == ["all", "cases", "7", "28.6%", "(2/7)", "5", "40.0%", "(2/5)",
                                "1"]
    billing = next(line for line in table if line.startswith("category billing")).split()
    assert billing[2:] == ["1", "0.0%", "(0/1)", "0", "-", "(0/0)", "0"]

    data = json.loads(render_json(returns_report))
    assert data["overall"]["lapse_rate"] == 2 / 7
    assert data["overall"]["inspection_failure_rate"] == 2 / 5
    assert data["by_tier"]["complex"]["returns_lapsed"] == 0
    assert data["overall"]["clocks"]["next_reply"] == {
        "decided": 9, "on_time": 7, "on_time_rate": 7 / 9,
    }
    assert data["clock_labels"]["next_reply"] == "next reply"
    assert Report.model_validate(data) == returns_report

    pytest.importorskip("matplotlib")
    page = render_html(returns_report)
    assert "<th>return shipment</th>" in page and "<th>next reply</th>" in page
    assert "<td>28.6% (2/7)</td>" in page and "<td>40.0% (2/5)</td>" in page


# ---------------------------------------------------------------------------------------------
# Renderers


async def test_text_report_is_an_aligned_table_with_the_figures(report: Report) -> None:
    text = render_text(report)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("group"))
    table = lines[start : start + 2 + 1 + 3 + 6]  # header, rule, all, 3 tiers, 6 categories
    assert len({len(line) for line in table}) == 1, "\n".join(table)
    row = next(line for line in table if line.startswith("all cases")).split()
    # cases, p50 2h 30m, p90 15h 30m, resolved 70 %, handled 80 %, CSAT 3.82, satisfied 72.7 %,
    # target missed, follow-up 87.5 %, escalated 40 %, 10 escalations, reopened 10 %
    assert row[2:] == ["20", "2h", "30m", "15h", "30m", "70.0%", "80.0%", "3.82", "72.7%",
                       "missed", "87.5%", "40.0%", "10", "10.0%"]
    assert "72.7%, missed" in lines[3]
    assert "81.0% (17/21)" in text  # first response on time, all cases

    start = next(i for i, line in enumerate(lines) if line.startswith("Routing")) + 1
    routing = lines[start : start + 2 + 1 + 3 + 6]
    assert len({len(line) for line in routing}) == 1, "\n".join(routing)
    assert [h for h in routing[0].split("  ") if h.strip()] == [
        "group", "routed", "assigned", "assign p50", "assign p90", "queued", "queue p50",
        "queue p90",
    ]
    # 9 routed, 6 assigned, assignment p50 1350 s / p90 4500 s, 8 queued, queue 900 s / 3600 s
    assert routing[2].split() == ["all", "cases", "9", "66.7%", "(6/9)", "22m", "1h", "15m",
                                  "8", "15m", "1h", "00m"]
    mismatch = next(line for line in routing if line.startswith("category description_mismatch"))
    assert mismatch.split()[2:] == ["0", "-", "(0/0)", "-", "-", "0", "-", "-"]
    assert "  queue p50 / p90: " in text


async def test_json_report_round_trips(report: Report) -> None:
    data = json.loads(render_json(report))
    assert data["overall"]["cases"] == 20
    assert data["overall"]["resolution_rate"] == 0.7
    assert data["overall"]["csat_target_met"] is False
    assert data["by_tier"]["urgent"]["clocks"]["first_response"] == {
        "decided": 6, "on_time": 5, "on_time_rate": 5 / 6,
    }
    assert data["overall"]["routed"] == 9
    assert data["overall"]["assigned_share"] == 6 / 9
    assert data["by_tier"]["complex"]["queue_p50_seconds"] == 1800.0
    assert Report.model_validate(data) == report


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_html_report_is_self_contained_and_renders_in_chromium(
    report: Report, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    page = render_html(report)
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert [alt for alt, _ in images] == [
        "On-time rate per SLA clock by tier",
        "CSAT distribution",
        "First response time p50 / p90 by tier",
    ]
    for _, data in images:
        width, height = _png_size(base64.b64decode(data))
        assert width > 400 and height > 200
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(?:src|href)=["'](?!data:)""", page)
    assert "<script" not in page
    assert "72.7%" in page and "tier urgent" in page
    assert "<h2>Routing (" in page and "<th>assign p50</th>" in page
    assert "<td>66.7% (6/9)</td><td>22m</td><td>1h 15m</td><td>8</td><td>15m</td>" in page

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    html_file = tmp_path / "report.html"
    html_file.write_text(page, encoding="utf-8")
    shot = tmp_path / "report.png"
    await screenshot(html_file, shot, tmp_path / "chromium-profile")
    assert shot.exists()
    data = shot.read_bytes()
    assert _png_size(data) == (1200, 1600)
    # A blank page compresses to a few kilobytes; three charts and tables do not.
    assert len(data) > 40_000


async def screenshot(html_file: Path, png: Path, profile: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={png}",
        "--window-size=1200,1600", f"file://{html_file}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]


async def test_html_without_matplotlib_names_the_extra(
    report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ReportError, match=r"aftersales\[report\]"):
        render_html(report)


# ---------------------------------------------------------------------------------------------
# CLI glue


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aftersales")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["report", *argv])


def test_parse_period_reads_naive_dates_in_the_business_zone() -> None:
    from zoneinfo import ZoneInfo

    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime(2025, 4, 1, 4, 0, tzinfo=UTC)
    since, until = parse_period("2025-01-01", "2025-04-01T00:00:00+00:00", shanghai, now)
    assert since == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)
    assert until == datetime(2025, 4, 1, tzinfo=UTC)
    since, until = parse_period(None, None, shanghai, now)
    assert (until, until - since) == (now, timedelta(days=90))
    with pytest.raises(ReportError, match="--since: 'last week' is not an ISO date"):
        parse_period("last week", None, shanghai, now)
    with pytest.raises(ReportError, match="must be before"):
        parse_period("2025-02-01", "2025-01-01", shanghai, now)


async def test_run_report_against_database_url(
    pool: asyncpg.Pool, postgres_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # run_report opens its own connection, so these rows are committed, in a window (March 2019)
    # no other test uses, and deleted afterwards.
    prefix = f"rptcli{uuid.uuid4().hex[:8]}-"
    since = datetime(2019, 3, 1, tzinfo=UTC)
    async with pool.acquire() as connection:
        await insert_fixture(connection, prefix, since)
    settings = Settings(database_url=postgres_dsn, home=tmp_path)
    try:
        out = tmp_path / "report.json"
        await run_report(
            parse("--since", "2019-03-01T00:00Z", "--until", "2019-04-01T00:00Z",
                  "--format", "json", "--output", str(out)),
            settings,
        )
        written = Report.model_validate_json(out.read_text())
        assert_figures(written.overall, EXPECTED["all"])
        assert_figures(written.by_tier["complex"], EXPECTED["complex"])
        assert_routing(written.overall, EXPECTED_ROUTING["all"])

        await run_report(
            parse("--since", "2019-03-01T00:00Z", "--until", "2019-04-01T00:00Z"), settings
        )
        printed = capsys.readouterr().out
        assert printed.startswith("After-sales service report\n")
        assert "category service_attitude" in printed

        with pytest.raises(UserError, match="--until: 'soon' is not an ISO date"):
            await run_report(parse("--until", "soon"), settings)
        with pytest.raises(UserError, match="must be before"):
            await run_report(parse("--since", "2019-04-01", "--until", "2019-03-01"), settings)
        with pytest.raises(UserError, match="cannot write"):
            await run_report(parse("--output", str(tmp_path / "missing" / "r.txt")), settings)
    finally:
        await pool.execute("DELETE FROM case_routing WHERE case_id LIKE $1", prefix + "%")
        await pool.execute("DELETE FROM sla_clocks WHERE case_id LIKE $1", prefix + "%")
        await pool.execute("DELETE FROM cases WHERE case_id LIKE $1", prefix + "%")


def test_report_parser_rejects_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--format", "pdf")
    assert "invalid choice: 'pdf'" in capsys.readouterr().err


@pytest.fixture
def home() -> Iterator[Path]:
    """An AFTERSALES_HOME outside pytest's temporary tree.

    PostgreSQL runs as the `pgserver` user, which must traverse the folders above its data
    folder; a concurrent pytest session resets /tmp/pytest-of-<user> to mode 0700 at start-up.
    """
    folder = Path(tempfile.mkdtemp(prefix="aftersales-report-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


async def test_run_report_starts_the_embedded_postgres_without_database_url(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = EmbeddedPostgres(home / "pgdata")
    dsn = server.start()
    try:
        await migrate(dsn)
        connection = await asyncpg.connect(dsn)
        try:
            await insert_fixture(connection, "emb-", SINCE)
        finally:
            await connection.close()
    finally:
        server.stop()

    await run_report(
        parse("--since", "2025-01-01T00:00Z", "--until", "2025-02-01T00:00Z", "--format", "json"),
        Settings(database_url=None, home=home),
    )
    printed = Report.model_validate_json(capsys.readouterr().out)
    assert_figures(printed.overall, EXPECTED["all"])
    assert_routing(printed.overall, EXPECTED_ROUTING["all"])
    # It started the server for the command and stopped it again.
    assert not EmbeddedPostgres(home / "pgdata").is_running()
