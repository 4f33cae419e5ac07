-- What belongs to a merchant, and what to the platform (NULL): API keys, webhook subscriptions
-- and roster teams. A platform key or team acts across merchants; a merchant's only on its own.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS merchant_id text REFERENCES merchants (merchant_id);
ALTER TABLE webhook_subscriptions ADD COLUMN IF NOT EXISTS merchant_id text REFERENCES merchants (merchant_id);
ALTER TABLE roster_teams ADD COLUMN IF NOT EXISTS merchant_id text REFERENCES merchants (merchant_id);

-- A merchant's subscription hears only that merchant's cases. The record writes the deliveries
-- of every matching subscription (010_state_delta.sql); this keeps out the ones out of scope, so
-- their count (and the wake-up it sends) counts only what will be sent.
CREATE OR REPLACE FUNCTION webhook_delivery_in_scope() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM webhook_subscriptions s
        WHERE s.id = NEW.subscription_id AND s.merchant_id IS NOT NULL
          AND s.merchant_id <> case_merchant(NEW.case_id)
    ) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS webhook_deliveries_in_scope ON webhook_deliveries;
CREATE TRIGGER webhook_deliveries_in_scope BEFORE INSERT ON webhook_deliveries
FOR EACH ROW EXECUTE FUNCTION webhook_delivery_in_scope();

-- Every read of a customer's clear personal data (a platform role's): who, when, which case,
-- which fields. Merchants' staff see them masked and are not logged.
CREATE TABLE IF NOT EXISTS personal_data_reads (
    id        bigserial   PRIMARY KEY,
    principal text        NOT NULL,
    key_id    text        NOT NULL,
    case_id   text        NOT NULL,
    fields    text[]      NOT NULL CHECK (cardinality(fields) > 0),
    route     text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS personal_data_reads_case ON personal_data_reads (case_id, at);

-- A merchant's own policy file, laid over the platform's when its case opens (NULL: the
-- platform's). Checked against the platform's floor when it is stored.
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS policy_toml text CHECK (length(policy_toml) <= 65536);
