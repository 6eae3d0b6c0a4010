-- Merchants and the API keys partners and analysts use. Configuration, not facts: secrets live
-- here, encrypted, and never in the (permanent, broadcast) event log.

CREATE TABLE merchants (
  id                    text        PRIMARY KEY CHECK (id ~ '^mer_[A-Za-z0-9_-]{6,64}$'),
  name                  text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  dojo_base_url         text        NOT NULL,
  dojo_environment      text        NOT NULL CHECK (dojo_environment IN ('sandbox', 'production')),
  -- AES-256-GCM, see packages/merchants/src/secret-box.ts; only the last four characters in clear.
  dojo_secret_key_enc   text        NOT NULL,
  dojo_secret_key_last4 text        NOT NULL,
  default_redirect_url  text,
  link_expiry_hours     integer     NOT NULL DEFAULT 720 CHECK (link_expiry_hours BETWEEN 1 AND 8760),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id            text        PRIMARY KEY,
  -- NULL only for analyst keys, which read every merchant.
  merchant_id   text        REFERENCES merchants (id),
  scope         text        NOT NULL CHECK (scope IN ('merchant', 'analyst')),
  -- SHA-256 of the secret part: keys are 256-bit random, so a slow hash adds nothing.
  secret_hash   bytea       NOT NULL,
  label         text        NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  CHECK ((scope = 'merchant') = (merchant_id IS NOT NULL))
);
CREATE INDEX api_keys_merchant_idx ON api_keys (merchant_id);

GRANT SELECT ON merchants, api_keys TO paylinks_app;
GRANT INSERT, UPDATE ON merchants, api_keys TO paylinks_app;
