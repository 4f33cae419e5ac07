-- The platform's ledger with each merchant (STANDARDS S16.4): what the platform paid buyers first,
-- what the merchant owes for it, and what the merchant settled. Rows come from the case's audit
-- events in the same transaction as the record, keyed by (case, seq), so they are written once.
CREATE TABLE IF NOT EXISTS merchant_ledger (
    key         text PRIMARY KEY,
    case_id     text           NOT NULL,
    merchant_id text           NOT NULL,
    kind        text           NOT NULL CHECK (kind IN ('platform_payout', 'recovery', 'recovery_settled')),
    amount      numeric(14, 2) NOT NULL CHECK (amount >= 0),
    currency    text           NOT NULL,
    at          timestamptz    NOT NULL,
    recorded_at timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS merchant_ledger_merchant_at ON merchant_ledger (merchant_id, at);

-- A merchant's settlement for an order is held while the platform's intervention is open.
CREATE TABLE IF NOT EXISTS settlement_holds (
    case_id     text        PRIMARY KEY,
    merchant_id text        NOT NULL,
    order_id    text        NOT NULL,
    held_at     timestamptz NOT NULL,
    released_at timestamptz
);
CREATE INDEX IF NOT EXISTS settlement_holds_open ON settlement_holds (merchant_id) WHERE released_at IS NULL;

-- Each merchant's balance with the platform: what it still owes for payouts made on its behalf.
CREATE OR REPLACE VIEW merchant_balances AS
SELECT merchant_id, currency,
       coalesce(sum(amount) FILTER (WHERE kind = 'platform_payout'), 0) AS platform_payouts,
       coalesce(sum(amount) FILTER (WHERE kind = 'recovery'), 0) AS recoveries,
       coalesce(sum(amount) FILTER (WHERE kind = 'recovery_settled'), 0) AS settled,
       coalesce(sum(amount) FILTER (WHERE kind = 'recovery'), 0)
         - coalesce(sum(amount) FILTER (WHERE kind = 'recovery_settled'), 0) AS owed
FROM merchant_ledger
GROUP BY merchant_id, currency;
