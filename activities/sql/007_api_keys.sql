-- API keys for `aftersales api`. Only a SHA-256 of each key's secret is kept: the secret is
-- shown once, at creation, and a leaked table grants nothing. The secrets are random 256-bit
-- strings, so a plain hash is enough; a slow password hash would only slow every request.
CREATE TABLE api_keys (
    id           text        PRIMARY KEY,
    principal    text        NOT NULL,
    role         text        NOT NULL,
    secret_hash  bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_principal ON api_keys (principal);

-- Requests per key per window, for the per-key rate limit. Every API replica counts in the same
-- row, so the limit holds for the service, not per process. Old windows are deleted as new ones
-- open.
CREATE TABLE api_rate_windows (
    key_id       text        NOT NULL,
    window_start timestamptz NOT NULL,
    requests     integer     NOT NULL,
    PRIMARY KEY (key_id, window_start)
);

-- The secrets that sign customer links. Each API replica reads the same rows, so a link issued
-- by one is honoured by all; a new row rotates the key while older links stay valid.
CREATE TABLE api_signing_keys (
    id         text        PRIMARY KEY,
    secret     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
