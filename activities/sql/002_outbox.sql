-- The notification outbox. Rows are written in the same transaction as the audit events they
-- belong to (or by the `send_notification` activity of cases started before that), and the
-- dispatcher delivers them: once per key, in `id` order within a case, retrying without limit.
-- One case's rows are written by its one workflow, one transaction after another, so `id`
-- order is the order the case queued them.
ALTER TABLE notifications
    ADD COLUMN id              bigserial,
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN last_error      text,
    ADD COLUMN delivered_at    timestamptz,
    ADD COLUMN deliveries      jsonb;
CREATE UNIQUE INDEX notifications_id ON notifications (id);
-- status: 'pending' until delivered; then 'delivered', or 'declined' when the provider refused
-- it for good (an opted-out recipient).
CREATE INDEX notifications_pending ON notifications (id) WHERE status = 'pending';
CREATE INDEX notifications_pending_case ON notifications (case_id, id) WHERE status = 'pending';
-- Rows queued before the dispatcher existed were left for whatever relay read the table; the
-- dispatcher must not send them a second time, months late.
UPDATE notifications SET status = 'before_outbox' WHERE status = 'pending';
