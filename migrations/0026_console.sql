-- The merchant console (services/console), under its own role. It is a client of the services:
-- it keeps staff accounts and sessions, never link state.
--   console.users          staff of a merchant: e-mail (unique, case-insensitive, among active
--                          users), role, argon2id password hash; removal sets disabled_at
--   console.tokens         invites and password resets: single-use, expiring, only their SHA-256
--   console.sessions       server-side sessions (@fastify/session), keyed by the SHA-256 of the id
--   console.merchant_keys  the partner API key the console acts with for each merchant, sealed
--                          with SECRETS_ENCRYPTION_KEYS like the Dojo keys
-- paylinks_console is not in paylinks_app: it reads no event, checkpoint or service table, only
-- merchants' ids and names, and api_keys (the owner's API-keys page, as `pnpm admin key` does).
DO $$
BEGIN
  BEGIN CREATE ROLE paylinks_console LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
END
$$;

CREATE SCHEMA console;

CREATE TABLE console.users (
  id             text        PRIMARY KEY,
  merchant_id    text        NOT NULL REFERENCES merchants (id),
  email          text        NOT NULL,
  name           text        NOT NULL,
  role           text        NOT NULL CHECK (role IN ('owner', 'staff', 'viewer')),
  password_hash  text        NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  disabled_at    timestamptz
);
CREATE UNIQUE INDEX console_users_email_idx ON console.users (lower(email)) WHERE disabled_at IS NULL;
CREATE INDEX console_users_merchant_idx ON console.users (merchant_id, created_at);

CREATE TABLE console.tokens (
  id           text        PRIMARY KEY,
  kind         text        NOT NULL CHECK (kind IN ('invite', 'reset')),
  token_hash   bytea       NOT NULL UNIQUE,
  merchant_id  text        NOT NULL REFERENCES merchants (id),
  email        text        NOT NULL,
  -- The invitee's name where the inviter gave one (`pnpm admin console owner --name`).
  name         text,
  role         text        CHECK (role IN ('owner', 'staff', 'viewer')),
  user_id      text        REFERENCES console.users (id),
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'invite') = (role IS NOT NULL)),
  CHECK ((kind = 'reset') = (user_id IS NOT NULL))
);
CREATE INDEX console_tokens_merchant_idx ON console.tokens (merchant_id, kind) WHERE used_at IS NULL;

CREATE TABLE console.sessions (
  sid_hash    bytea       PRIMARY KEY,
  user_id     text        REFERENCES console.users (id),
  data        jsonb       NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_user_idx ON console.sessions (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX console_sessions_expiry_idx ON console.sessions (expires_at);

CREATE TABLE console.merchant_keys (
  merchant_id  text        PRIMARY KEY REFERENCES merchants (id),
  key_id       text        NOT NULL,
  sealed_key   text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

GRANT USAGE ON SCHEMA console TO paylinks_console;
GRANT SELECT, INSERT, UPDATE ON console.users, console.tokens, console.merchant_keys TO paylinks_console;
GRANT SELECT, INSERT, UPDATE, DELETE ON console.sessions TO paylinks_console;
GRANT SELECT (id, name) ON merchants TO paylinks_console;
GRANT SELECT, INSERT ON api_keys TO paylinks_console;
GRANT UPDATE (label, revoked_at) ON api_keys TO paylinks_console;
GRANT SELECT ON kysely_migration, kysely_migration_lock TO paylinks_console;
