-- record_case_delta: record_case (sql/008_webhooks.sql) for a record that carries, of the state,
-- only the top-level fields that moved (activities/record_input.py). A new name, so a worker of
-- this version on a database without this migration fails its record loudly (and retries) instead
-- of storing a part of a state. record_case, which the workers of earlier versions call, becomes
-- a whole-state call of it (at the end).
--
-- The row's columns move only forward (a higher `last_seq`), as before. The state is kept apart:
-- `state_digest` names the state the row holds, and a record's fields are merged only onto the
-- exact state they were computed on (`base`). A whole state (`base` '') replaces any state at or
-- before its `last_seq`. Anything else leaves the state alone and answers `state_current` false,
-- and the workflow sends the whole state: a task retried after its record committed computes
-- its fields on a state the row does not hold.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS state_digest text;

CREATE OR REPLACE FUNCTION record_case_delta(
    doc jsonb, delta jsonb, OUT events_written integer, OUT projected boolean, OUT state_current boolean)
LANGUAGE plpgsql AS $$
DECLARE
    c cases;
    written_case text;
    new_seqs integer[];
    new_types text[];
    hooks integer;
    base text := COALESCE(doc->>'base', '');
    digest text := doc->>'digest';
BEGIN
    c := jsonb_populate_record(NULL::cases, doc->'case');

    WITH inserted AS (
        INSERT INTO case_events (case_id, seq, type, actor, at, data)
        SELECT c.case_id, e.seq, e.type, e.actor, e.at, e.data
        FROM jsonb_to_recordset(doc->'events') AS e(seq integer, type text, actor text, at timestamptz, data jsonb)
        ON CONFLICT (case_id, seq) DO NOTHING
        RETURNING seq, type
    )
    SELECT count(*), array_agg(seq), array_agg(type) INTO events_written, new_seqs, new_types FROM inserted;

    INSERT INTO cases (
        case_id, workflow_id, order_id, customer_id, customer_tier, channel, category, tier, status,
        escalation_level, handler, team, order_amount, currency, opened_at, first_response_at,
        resolved_at, closed_at, resolution_type, resolution_amount, review_approved, rating,
        quality_review, follow_up_reason, follow_up_outcome, reopen_count, escalations, sla_state,
        last_seq, state, state_digest, updated_at)
    VALUES (
        c.case_id, c.workflow_id, c.order_id, c.customer_id, c.customer_tier, c.channel, c.category,
        c.tier, c.status, c.escalation_level, c.handler, c.team, c.order_amount, c.currency,
        c.opened_at, c.first_response_at, c.resolved_at, c.closed_at, c.resolution_type,
        c.resolution_amount, c.review_approved, c.rating, c.quality_review, c.follow_up_reason,
        c.follow_up_outcome, c.reopen_count, c.escalations, c.sla_state, c.last_seq,
        CASE WHEN base = '' THEN delta ELSE '{}'::jsonb END, CASE WHEN base = '' THEN digest END, now())
    ON CONFLICT (case_id) DO UPDATE SET
        category = EXCLUDED.category, tier = EXCLUDED.tier, status = EXCLUDED.status,
        escalation_level = EXCLUDED.escalation_level, handler = EXCLUDED.handler,
        team = EXCLUDED.team, first_response_at = EXCLUDED.first_response_at,
        resolved_at = EXCLUDED.resolved_at, closed_at = EXCLUDED.closed_at,
        resolution_type = EXCLUDED.resolution_type, resolution_amount = EXCLUDED.resolution_amount,
        review_approved = EXCLUDED.review_approved, rating = EXCLUDED.rating,
        quality_review = EXCLUDED.quality_review, follow_up_reason = EXCLUDED.follow_up_reason,
        follow_up_outcome = EXCLUDED.follow_up_outcome, reopen_count = EXCLUDED.reopen_count,
        escalations = EXCLUDED.escalations, sla_state = EXCLUDED.sla_state,
        last_seq = EXCLUDED.last_seq, updated_at = now()
    WHERE cases.last_seq < EXCLUDED.last_seq
    RETURNING case_id INTO written_case;
    projected := written_case IS NOT NULL;

    UPDATE cases SET state = CASE WHEN base = '' THEN delta ELSE cases.state || delta END, state_digest = digest
    WHERE case_id = c.case_id AND last_seq <= c.last_seq AND (base = '' OR state_digest = base)
      AND state_digest IS DISTINCT FROM digest;
    SELECT COALESCE(state_digest = digest, false) INTO state_current FROM cases WHERE case_id = c.case_id;

    IF projected THEN
        INSERT INTO sla_clocks (case_id, round, clock, turn, target_seconds, business, target_label,
            started_at, due_at, state, warned_at, breached_at, met_at, stopped_at, elapsed_seconds)
        SELECT c.case_id, k.round, k.clock, COALESCE(k.turn, 0), k.target_seconds, k.business, k.target_label,
               k.started_at, k.due_at, k.state, k.warned_at, k.breached_at, k.met_at, k.stopped_at,
               k.elapsed_seconds
        FROM jsonb_to_recordset(doc->'clocks') AS k(
            round integer, clock text, turn integer, target_seconds double precision, business boolean,
            target_label text, started_at timestamptz, due_at timestamptz, state text,
            warned_at timestamptz, breached_at timestamptz, met_at timestamptz,
            stopped_at timestamptz, elapsed_seconds double precision)
        ON CONFLICT (case_id, round, clock, turn) DO UPDATE SET
            started_at = EXCLUDED.started_at, target_seconds = EXCLUDED.target_seconds, business = EXCLUDED.business,
            target_label = EXCLUDED.target_label, due_at = EXCLUDED.due_at, state = EXCLUDED.state,
            warned_at = EXCLUDED.warned_at, breached_at = EXCLUDED.breached_at,
            met_at = EXCLUDED.met_at, stopped_at = EXCLUDED.stopped_at,
            elapsed_seconds = EXCLUDED.elapsed_seconds;

        IF jsonb_typeof(doc->'survey') = 'object' THEN
            INSERT INTO surveys (case_id, round, sent_at, score, comment, rated_at)
            SELECT c.case_id, s.round, s.sent_at, s.score, s.comment, s.rated_at
            FROM jsonb_to_record(doc->'survey')
                 AS s(round integer, sent_at timestamptz, score integer, comment text, rated_at timestamptz)
            ON CONFLICT (case_id, round) DO UPDATE SET
                score = COALESCE(EXCLUDED.score, surveys.score),
                comment = COALESCE(EXCLUDED.comment, surveys.comment),
                rated_at = COALESCE(EXCLUDED.rated_at, surveys.rated_at);
        END IF;
    END IF;

    IF jsonb_array_length(doc->'outbox') > 0 THEN
        INSERT INTO notifications (key, channel, case_id, kind, audience, recipient, subject, body, data)
        SELECT o.key, o.channel, o.case_id, o.kind, o.audience, o.recipient, o.subject, o.body, o.data
        FROM jsonb_array_elements(doc->'outbox') WITH ORDINALITY AS a(row, n)
        CROSS JOIN LATERAL jsonb_to_record(a.row) AS o(
            key text, channel text, case_id text, kind text, audience text, recipient text,
            subject text, body text, data jsonb)
        ORDER BY a.n  -- `id` follows the order the case queued them
        ON CONFLICT (key, channel) DO NOTHING;
        PERFORM pg_notify('aftersales_outbox', '');
    END IF;

    IF events_written > 0 AND EXISTS (
        SELECT 1 FROM webhook_subscriptions
        WHERE active AND (event_types && new_types OR '*' = ANY (event_types))
    ) THEN
        INSERT INTO webhook_deliveries (subscription_id, webhook_id, case_id, seq, event_type, payload)
        SELECT s.id, w.id, c.case_id, e.seq, e.type,
               jsonb_build_object('type', e.type, 'id', w.id, 'timestamp', w.at, 'data', jsonb_build_object(
                   'case_id', c.case_id, 'seq', e.seq, 'status', c.status, 'tier', c.tier, 'at', w.at,
                   'event', COALESCE(e.public, '{}'::jsonb)))
        FROM jsonb_to_recordset(doc->'events') AS e(seq integer, type text, at timestamptz, public jsonb)
        CROSS JOIN LATERAL (
            SELECT 'evt_' || c.case_id || '_' || e.seq AS id,
                   to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at
        ) AS w
        JOIN webhook_subscriptions s
          ON s.active AND (e.type = ANY (s.event_types) OR '*' = ANY (s.event_types))
        WHERE e.seq = ANY (new_seqs)
        ORDER BY e.seq, s.id
        ON CONFLICT (subscription_id, case_id, seq) DO NOTHING;
        GET DIAGNOSTICS hooks = ROW_COUNT;
        IF hooks > 0 THEN
            PERFORM pg_notify('aftersales_webhooks', '');
        END IF;
    END IF;
END
$$;

-- record_case, as workers of earlier versions call it with the whole state, now goes through the
-- same body: a whole state (`base` ''), named by the digest of its text.
CREATE OR REPLACE FUNCTION record_case(doc jsonb, state jsonb, OUT events_written integer, OUT projected boolean)
LANGUAGE sql AS $$
    SELECT r.events_written, r.projected
    FROM record_case_delta(doc || jsonb_build_object('base', '', 'digest', md5(state::text)), state) AS r
$$;
