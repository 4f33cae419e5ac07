-- The case read model and its side-effect ledgers.
-- PostgreSQL is a projection of the workflows: every table is written idempotently, keyed by
-- a per-case sequence number or an idempotency key, so retried activities change nothing.

CREATE TABLE cases (
    case_id            text PRIMARY KEY,
    workflow_id        text        NOT NULL,
    order_id           text        NOT NULL,
    customer_id        text        NOT NULL,
    customer_tier      text        NOT NULL,
    channel            text        NOT NULL,
    category           text        NOT NULL,
    tier               text        NOT NULL,
    status             text        NOT NULL,
    escalation_level   integer     NOT NULL,
    handler            text,
    team               text,
    order_amount       numeric(14, 2) NOT NULL,
    currency           text        NOT NULL,
    opened_at          timestamptz NOT NULL,
    first_response_at  timestamptz,
    resolved_at        timestamptz,
    closed_at          timestamptz,
    resolution_type    text,
    resolution_amount  numeric(14, 2),
    review_approved    boolean,
    rating             integer,
    quality_review     boolean     NOT NULL DEFAULT false,
    follow_up_reason   text,
    follow_up_outcome  text,
    reopen_count       integer     NOT NULL DEFAULT 0,
    escalations        integer     NOT NULL DEFAULT 0,
    sla_state          text        NOT NULL,
    last_seq           integer     NOT NULL,
    state              jsonb       NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_opened_at ON cases (opened_at);
CREATE INDEX cases_status ON cases (status);

-- Append-only audit trail: one row per change, in order, never updated.
CREATE TABLE case_events (
    case_id     text        NOT NULL,
    seq         integer     NOT NULL,
    type        text        NOT NULL,
    actor       text        NOT NULL,
    at          timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_events_type_at ON case_events (type, at);

-- One row per clock per round of handling (a reopen starts a new round).
CREATE TABLE sla_clocks (
    case_id          text        NOT NULL,
    round            integer     NOT NULL,
    clock            text        NOT NULL,
    target_seconds   double precision NOT NULL,
    business         boolean     NOT NULL,
    target_label     text        NOT NULL,
    started_at       timestamptz NOT NULL,
    due_at           timestamptz,
    state            text        NOT NULL,
    warned_at        timestamptz,
    breached_at      timestamptz,
    met_at           timestamptz,
    stopped_at       timestamptz,
    elapsed_seconds  double precision,
    PRIMARY KEY (case_id, round, clock)
);

CREATE TABLE notifications (
    key         text        NOT NULL,
    channel     text        NOT NULL,
    case_id     text        NOT NULL,
    kind        text        NOT NULL,
    audience    text        NOT NULL,
    recipient   text        NOT NULL,
    subject     text        NOT NULL,
    body        text        NOT NULL,
    data        jsonb       NOT NULL,
    status      text        NOT NULL DEFAULT 'pending',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, channel)
);
CREATE INDEX notifications_case ON notifications (case_id);

-- Money moved for a case: refunds and compensation credits. The idempotency key makes a
-- retried or replayed execution find the earlier movement instead of paying twice.
CREATE TABLE refunds (
    key           text PRIMARY KEY,
    reference     text        NOT NULL UNIQUE,
    case_id       text        NOT NULL,
    order_id      text        NOT NULL,
    customer_id   text        NOT NULL,
    kind          text        NOT NULL,
    amount        numeric(14, 2) NOT NULL,
    currency      text        NOT NULL,
    status        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    reversal_key  text UNIQUE,
    reversed_at   timestamptz,
    reversal_reason text
);
CREATE INDEX refunds_case ON refunds (case_id);

CREATE TABLE shipments (
    key           text PRIMARY KEY,
    reference     text        NOT NULL UNIQUE,
    case_id       text        NOT NULL,
    order_id      text        NOT NULL,
    customer_id   text        NOT NULL,
    status        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    cancelled_at  timestamptz,
    cancel_reason text
);

-- Repair visits (上门服务) and follow-up calls or visits (回访).
CREATE TABLE follow_ups (
    key            text PRIMARY KEY,
    reference      text        NOT NULL UNIQUE,
    case_id        text        NOT NULL,
    customer_id    text        NOT NULL,
    kind           text        NOT NULL,
    scheduled_for  timestamptz NOT NULL,
    reason         text        NOT NULL,
    status         text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    cancelled_at   timestamptz,
    cancel_reason  text
);
CREATE INDEX follow_ups_case ON follow_ups (case_id);

CREATE TABLE surveys (
    case_id     text        NOT NULL,
    round       integer     NOT NULL,
    sent_at     timestamptz NOT NULL,
    score       integer CHECK (score BETWEEN 1 AND 5),
    comment     text,
    rated_at    timestamptz,
    PRIMARY KEY (case_id, round)
);
