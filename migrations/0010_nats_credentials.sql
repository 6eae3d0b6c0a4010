-- Order systems' NATS credentials: each publishes one merchant's orders (issue 18). Only the
-- bcrypt hash of the password is kept, which is what nats-server's configuration holds too;
-- `pnpm admin nats-credential create|revoke` regenerates that configuration from these rows.
CREATE TABLE nats_credentials (
  nats_user      text        PRIMARY KEY CHECK (nats_user ~ '^[A-Za-z0-9_-]{1,100}$'),
  merchant_id    text        NOT NULL REFERENCES merchants (id),
  password_hash  text        NOT NULL CHECK (password_hash ~ '^\$2[abxy]?\$[0-9]{2}\$'),
  label          text        NOT NULL DEFAULT '' CHECK (length(label) <= 200),
  created_at     timestamptz NOT NULL DEFAULT now(),
  revoked_at     timestamptz
);
CREATE INDEX nats_credentials_merchant_idx ON nats_credentials (merchant_id);

GRANT SELECT, INSERT, UPDATE ON nats_credentials TO paylinks_app;
