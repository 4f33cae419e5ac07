-- Merchants: the parties the platform's cases belong to. A case's key names its merchant
-- (cases/ids.py: `merchant~case_id`, or the plain case id for the default merchant), so the
-- `cases` row derives its merchant from the key and no writer can set it apart from the key.
CREATE TABLE IF NOT EXISTS merchants (
    merchant_id text PRIMARY KEY CHECK (merchant_id ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A single-merchant install keeps working: its cases belong to this one.
INSERT INTO merchants (merchant_id, name) VALUES ('default', 'Default merchant')
ON CONFLICT (merchant_id) DO NOTHING;

-- The merchant a case key names; the only copy in SQL of what cases/ids.py says.
CREATE OR REPLACE FUNCTION case_merchant(case_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN strpos(case_key, '~') > 0 THEN split_part(case_key, '~', 1) ELSE 'default' END
$$;

ALTER TABLE cases ADD COLUMN IF NOT EXISTS merchant_id text GENERATED ALWAYS AS (case_merchant(case_id)) STORED;
CREATE INDEX IF NOT EXISTS cases_merchant_opened ON cases (merchant_id, opened_at);
