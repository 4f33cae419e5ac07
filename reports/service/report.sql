-- The service report's queries (STANDARDS S9), read by reports/service/query.py.
-- Each statement follows a `-- name: <name>` line. Each takes the period as $1 (inclusive) and
-- $2 (exclusive) and covers the cases OPENED in it, so a case is reported once, in the period it
-- arrived in, however long it took (`interventions` reads the ledger and the holds over spans of
-- their own, as it says). GROUPING SETS computes the whole period, each tier, each
-- category and each merchant in one pass over the rows; `dimension` says which grouping a row
-- belongs to. A case's merchant is the generated `cases.merchant_id`, derived from its key.
-- The final statuses are closed, withdrawn and lapsed (cases.models.FINAL_STATUSES).

-- name: case_figures
SELECT
    CASE
        WHEN GROUPING(tier) = 0 THEN 'tier'
        WHEN GROUPING(category) = 0 THEN 'category'
        WHEN GROUPING(cases.merchant_id) = 0 THEN 'merchant'
        ELSE 'all'
    END AS dimension,
    COALESCE(tier, category, cases.merchant_id, 'all') AS grp,
    count(*) AS cases,
    count(first_response_at) AS responded,
    -- percentile_cont skips the NULLs of cases nobody has answered yet.
    percentile_cont(0.5) WITHIN GROUP (
        ORDER BY EXTRACT(EPOCH FROM first_response_at - opened_at)::double precision
    ) AS first_response_p50,
    percentile_cont(0.9) WITHIN GROUP (
        ORDER BY EXTRACT(EPOCH FROM first_response_at - opened_at)::double precision
    ) AS first_response_p90,
    count(resolved_at) AS resolved,
    -- Qualified: case_routing, joined below, has a status of its own.
    count(*) FILTER (
        WHERE cases.status IN ('closed', 'withdrawn', 'lapsed') OR resolution_type IS NOT NULL
    ) AS handled,
    count(rating) AS rated,
    avg(rating)::double precision AS csat_mean,
    -- $3 is the lowest satisfied rating (STANDARDS S6.3), reports.figures.SATISFIED_MIN_RATING.
    count(*) FILTER (WHERE rating >= $3) AS satisfied,
    count(*) FILTER (WHERE rating = 1) AS rated_1,
    count(*) FILTER (WHERE rating = 2) AS rated_2,
    count(*) FILTER (WHERE rating = 3) AS rated_3,
    count(*) FILTER (WHERE rating = 4) AS rated_4,
    count(*) FILTER (WHERE rating = 5) AS rated_5,
    count(follow_up_reason) AS follow_ups_required,
    count(*) FILTER (
        WHERE follow_up_reason IS NOT NULL AND follow_up_outcome IS NOT NULL
    ) AS follow_ups_done,
    count(*) FILTER (WHERE escalations > 0) AS escalated_cases,
    COALESCE(sum(escalations), 0)::bigint AS escalations,
    count(*) FILTER (WHERE reopen_count > 0) AS reopened,
    -- A return is counted per case, however often the case had one authorised; inspections
    -- are counted per result, since a case whose return failed can send the goods back again.
    count(*) FILTER (WHERE legs.returns_authorized > 0) AS returns_authorized,
    count(*) FILTER (WHERE legs.returns_authorized > 0 AND legs.returns_lapsed > 0)
        AS returns_lapsed,
    COALESCE(sum(legs.inspections), 0)::bigint AS inspections,
    COALESCE(sum(legs.inspections_failed), 0)::bigint AS inspections_failed,
    COALESCE(sum(legs.inspections_silent), 0)::bigint AS inspections_silent,
    count(routing.case_id) AS routed,
    count(routing.first_assigned_at) AS assigned,
    percentile_cont(0.5) WITHIN GROUP (
        ORDER BY EXTRACT(EPOCH FROM routing.first_assigned_at - opened_at)::double precision
    ) AS assignment_p50,
    percentile_cont(0.9) WITHIN GROUP (
        ORDER BY EXTRACT(EPOCH FROM routing.first_assigned_at - opened_at)::double precision
    ) AS assignment_p90,
    -- queue_seconds is 0, not NULL, for a case taken by hand without ever waiting in a queue, so
    -- the queue figures are taken over the cases that were queued at least once.
    count(routing.first_queued_at) AS queued,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY routing.queue_seconds)
        FILTER (WHERE routing.first_queued_at IS NOT NULL) AS queue_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY routing.queue_seconds)
        FILTER (WHERE routing.first_queued_at IS NOT NULL) AS queue_p90
FROM cases
-- The projection keeps no per-case column for the return leg, so its audit events are read; the
-- lateral join looks them up by case (the key's prefix) for the period's cases only.
CROSS JOIN LATERAL (
    SELECT
        count(*) FILTER (WHERE e.type = 'return_authorized') AS returns_authorized,
        count(*) FILTER (WHERE e.type = 'return_lapsed') AS returns_lapsed,
        count(*) FILTER (WHERE e.type = 'inspection_result') AS inspections,
        count(*) FILTER (
            WHERE e.type = 'inspection_result' AND e.data ->> 'result' = 'failed'
        ) AS inspections_failed,
        count(*) FILTER (
            WHERE e.type = 'inspection_result' AND e.data -> 'silent' = 'true'::jsonb
        ) AS inspections_silent
    FROM case_events AS e
    WHERE e.case_id = cases.case_id
      AND e.type IN ('return_authorized', 'return_lapsed', 'inspection_result')
) AS legs
-- At most one row per case (its primary key), so the join never counts a case twice; a case
-- never routed has none and counts in no routing figure.
LEFT JOIN case_routing AS routing ON routing.case_id = cases.case_id
WHERE opened_at >= $1 AND opened_at < $2
GROUP BY GROUPING SETS ((), (tier), (category), (cases.merchant_id));

-- name: clock_figures
-- A clock counts once it is decided: met, or breached (met late or not at all). Clocks still
-- running, paused, or stopped unmet (a withdrawal, a reopen) have no verdict and are left out.
-- Every round of a reopened case is its own set of targets, so each round's clocks count; so does
-- every turn of a clock that runs once per customer message (next_reply), one row per turn.
SELECT
    CASE
        WHEN GROUPING(c.tier) = 0 THEN 'tier'
        WHEN GROUPING(c.category) = 0 THEN 'category'
        WHEN GROUPING(c.merchant_id) = 0 THEN 'merchant'
        ELSE 'all'
    END AS dimension,
    COALESCE(c.tier, c.category, c.merchant_id, 'all') AS grp,
    k.clock,
    count(*) FILTER (WHERE k.met_at IS NOT NULL OR k.breached_at IS NOT NULL) AS decided,
    count(*) FILTER (WHERE k.met_at IS NOT NULL AND k.breached_at IS NULL) AS on_time
FROM sla_clocks AS k
JOIN cases AS c USING (case_id)
WHERE c.opened_at >= $1 AND c.opened_at < $2
GROUP BY GROUPING SETS (
    (k.clock), (k.clock, c.tier), (k.clock, c.category), (k.clock, c.merchant_id)
);

-- name: merchant_duties
-- The merchant's duties to the buyer (STANDARDS S15.4, S15.5), over the period's cases that had a
-- buyer's request or a delivered return: the whole platform, and each merchant. Each request
-- starts its own turn of the `merchant_answer` clock, so the clock rows count answer deadlines
-- one per request; met without a breach is an answer by hand in time, since the engine agrees a
-- request the moment its deadline passes, and then no answer by hand can follow. A breached
-- `delivered_return` clock is a return the merchant let run out: the engine passed the goods and
-- refunded the buyer at the breach. Requests, agreements by silence and refused rejections are
-- counted from their audit events, as the engine records each of them there and nowhere else.
SELECT
    CASE WHEN GROUPING(cases.merchant_id) = 0 THEN 'merchant' ELSE 'all' END AS dimension,
    COALESCE(cases.merchant_id, 'all') AS grp,
    COALESCE(sum(trail.requests), 0)::bigint AS requests,
    COALESCE(sum(trail.agreed_by_silence), 0)::bigint AS agreed_by_silence,
    COALESCE(sum(trail.rejections_refused), 0)::bigint AS rejections_refused,
    COALESCE(sum(deadlines.answers_decided), 0)::bigint AS answers_decided,
    COALESCE(sum(deadlines.answered_on_time), 0)::bigint AS answered_on_time,
    COALESCE(sum(deadlines.delivered_returns_decided), 0)::bigint AS delivered_returns_decided,
    COALESCE(sum(deadlines.refunded_by_silence), 0)::bigint AS refunded_by_silence
FROM cases
CROSS JOIN LATERAL (
    SELECT
        count(*) FILTER (WHERE e.type = 'remedy_requested') AS requests,
        count(*) FILTER (WHERE e.type = 'request_agreed_by_silence') AS agreed_by_silence,
        count(*) FILTER (WHERE e.type = 'rejection_refused') AS rejections_refused
    FROM case_events AS e
    WHERE e.case_id = cases.case_id
      AND e.type IN ('remedy_requested', 'request_agreed_by_silence', 'rejection_refused')
) AS trail
CROSS JOIN LATERAL (
    SELECT
        count(*) FILTER (
            WHERE k.clock = 'merchant_answer'
              AND (k.met_at IS NOT NULL OR k.breached_at IS NOT NULL)
        ) AS answers_decided,
        count(*) FILTER (
            WHERE k.clock = 'merchant_answer' AND k.met_at IS NOT NULL AND k.breached_at IS NULL
        ) AS answered_on_time,
        count(*) FILTER (
            WHERE k.clock = 'delivered_return'
              AND (k.met_at IS NOT NULL OR k.breached_at IS NOT NULL)
        ) AS delivered_returns_decided,
        count(*) FILTER (
            WHERE k.clock = 'delivered_return' AND k.breached_at IS NOT NULL
        ) AS refunded_by_silence,
        count(*) FILTER (WHERE k.clock = 'delivered_return') AS delivered_returns
    FROM sla_clocks AS k
    WHERE k.case_id = cases.case_id AND k.clock IN ('merchant_answer', 'delivered_return')
) AS deadlines
WHERE opened_at >= $1 AND opened_at < $2
  AND (trail.requests > 0 OR deadlines.delivered_returns > 0)
GROUP BY GROUPING SETS ((), (cases.merchant_id));

-- name: interventions
-- The platform stepping in on a dispute between buyer and merchant (STANDARDS S16): the whole
-- platform, and each merchant. Three sources, each read over its own span, joined by group:
--   * the period's cases, from their audit events and clocks: how often a buyer's request went to
--     the platform, how it ruled, and how often the merchant let a ruling's deadline pass;
--   * the merchant ledger's rows dated in the period, per currency (arrays in currency order),
--     since a payout or a settlement can come long after the case opened;
--   * the settlement holds still open at the period's end, whenever they were placed.
-- The engine hears no intervention without a buyer's request (check_ask in
-- cases/intervention/hearing.py), so counting the cases with both loses none and keeps the
-- intervention rate a share of the requests. A case can be ruled twice (the ruling, then the
-- appeal's), and each ruling counts. A breached `ruling_carry_out` clock is a ruling the merchant
-- did not carry out in time: at the breach the platform paid the buyer first, or, for goods it
-- cannot move, handed the case to its staff.
WITH opened AS (
    SELECT cases.merchant_id, trail.requested, trail.intervened, trail.ruled_against,
           trail.ruled_for, carry.not_carried_out
    FROM cases
    CROSS JOIN LATERAL (
        SELECT
            count(*) FILTER (WHERE e.type = 'remedy_requested') > 0 AS requested,
            count(*) FILTER (WHERE e.type = 'intervention_asked') > 0 AS intervened,
            count(*) FILTER (
                WHERE e.type = 'ruled' AND e.data ->> 'decision' <> 'reject'
            ) AS ruled_against,
            count(*) FILTER (
                WHERE e.type = 'ruled' AND e.data ->> 'decision' = 'reject'
            ) AS ruled_for
        FROM case_events AS e
        WHERE e.case_id = cases.case_id
          AND e.type IN ('remedy_requested', 'intervention_asked', 'ruled')
    ) AS trail
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE k.breached_at IS NOT NULL) AS not_carried_out
        FROM sla_clocks AS k
        WHERE k.case_id = cases.case_id AND k.clock = 'ruling_carry_out'
    ) AS carry
    WHERE opened_at >= $1 AND opened_at < $2
      AND (trail.requested OR trail.intervened OR trail.ruled_against + trail.ruled_for > 0
           OR carry.not_carried_out > 0)
),
case_counts AS (
    SELECT
        CASE WHEN GROUPING(merchant_id) = 0 THEN 'merchant' ELSE 'all' END AS dimension,
        COALESCE(merchant_id, 'all') AS grp,
        count(*) FILTER (WHERE requested) AS requested_cases,
        count(*) FILTER (WHERE requested AND intervened) AS intervened_cases,
        COALESCE(sum(ruled_against), 0)::bigint AS ruled_against,
        COALESCE(sum(ruled_for), 0)::bigint AS ruled_for,
        COALESCE(sum(not_carried_out), 0)::bigint AS not_carried_out
    FROM opened
    GROUP BY GROUPING SETS ((), (merchant_id))
),
ledger_by_currency AS (
    SELECT
        CASE WHEN GROUPING(merchant_id) = 0 THEN 'merchant' ELSE 'all' END AS dimension,
        COALESCE(merchant_id, 'all') AS grp,
        currency,
        -- round(, 2) gives a kind without a row the ledger's scale (0.00, as the others read),
        -- where a cast to numeric(14, 2) could overflow on a large sum.
        round(COALESCE(sum(amount) FILTER (WHERE kind = 'platform_payout'), 0), 2)
            AS platform_payouts,
        round(COALESCE(sum(amount) FILTER (WHERE kind = 'recovery'), 0), 2) AS recoveries,
        round(COALESCE(sum(amount) FILTER (WHERE kind = 'recovery_settled'), 0), 2) AS settled
    FROM merchant_ledger
    WHERE at >= $1 AND at < $2
    GROUP BY GROUPING SETS ((currency), (merchant_id, currency))
),
ledger AS (
    SELECT dimension, grp,
           array_agg(currency ORDER BY currency) AS currencies,
           array_agg(platform_payouts ORDER BY currency) AS platform_payouts,
           array_agg(recoveries ORDER BY currency) AS recoveries,
           array_agg(settled ORDER BY currency) AS settled
    FROM ledger_by_currency
    GROUP BY dimension, grp
),
holds AS (
    SELECT
        CASE WHEN GROUPING(merchant_id) = 0 THEN 'merchant' ELSE 'all' END AS dimension,
        COALESCE(merchant_id, 'all') AS grp,
        count(*) AS open_holds
    FROM settlement_holds
    WHERE held_at < $2 AND (released_at IS NULL OR released_at >= $2)
    GROUP BY GROUPING SETS ((), (merchant_id))
)
-- FULL JOIN ... USING merges the join columns, so a merchant known to one source only is kept.
SELECT
    dimension,
    grp,
    COALESCE(case_counts.requested_cases, 0) AS requested_cases,
    COALESCE(case_counts.intervened_cases, 0) AS intervened_cases,
    COALESCE(case_counts.ruled_against, 0) AS ruled_against,
    COALESCE(case_counts.ruled_for, 0) AS ruled_for,
    COALESCE(case_counts.not_carried_out, 0) AS not_carried_out,
    COALESCE(holds.open_holds, 0) AS open_holds,
    ledger.currencies,
    ledger.platform_payouts,
    ledger.recoveries,
    ledger.settled
FROM case_counts
FULL JOIN ledger USING (dimension, grp)
FULL JOIN holds USING (dimension, grp);
