-- Outbound webhooks to partners (issue 14), run by webhook-dispatch under its own role.
--   wd_endpoints         endpoints as their events (webhook-endpoint.<id>) tell them, folded by
--                        webhook-dispatch's store subscriber with its checkpoint
--   wd_endpoint_secrets  each signing secret version, sealed with SECRETS_ENCRYPTION_KEYS
--   wd_endpoint_health   operational: the delivery lease (one owner per endpoint across replicas)
--                        and since when the endpoint has been failing
--   wd_links             what a partner payload says of a link (no customer data)
--   wd_deliveries        the outbox: one row per (event, endpoint), due at next_attempt_at
--   wd_attempts          the delivery log: every attempt with its status code, latency, error
--   wd_idempotency_keys  Idempotency-Key of endpoint creation
DO $$
BEGIN
  BEGIN CREATE ROLE paylinks_webhook_dispatch LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS IN ROLE paylinks_app;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
END
$$;

CREATE TABLE wd_endpoints (
  endpoint_id          text        PRIMARY KEY,
  merchant_id          text        NOT NULL,
  url                  text        NOT NULL,
  description          text        NOT NULL DEFAULT '',
  event_types          text[]      NOT NULL,
  status               text        NOT NULL CHECK (status IN ('enabled', 'disabled', 'deleted')),
  disabled_reason      text,
  disabled_detail      text,
  disabled_at          timestamptz,
  secret_version       integer     NOT NULL,
  previous_valid_until timestamptz,
  -- The stream's last position folded here: the expected sequence of the next decision.
  position             bigint      NOT NULL,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL
);
CREATE INDEX wd_endpoints_merchant_idx ON wd_endpoints (merchant_id, created_at);

CREATE TABLE wd_endpoint_secrets (
  endpoint_id  text        NOT NULL,
  version      integer     NOT NULL,
  sealed       text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (endpoint_id, version)
);

CREATE TABLE wd_endpoint_health (
  endpoint_id      text        PRIMARY KEY,
  lease_owner      text,
  lease_until      timestamptz,
  failing_since    timestamptz,
  last_success_at  timestamptz,
  last_failure_at  timestamptz
);

CREATE TABLE wd_links (
  link_id            text        PRIMARY KEY,
  merchant_id        text        NOT NULL,
  reference          text        NOT NULL,
  order_id           text,
  amount_value       bigint      NOT NULL,
  currency           text        NOT NULL,
  status             text        NOT NULL,
  payment_intent_id  text,
  refunded_amount    bigint      NOT NULL DEFAULT 0,
  -- Refunds are recorded one by one (payment-link.refunded): status reports of them send nothing.
  refund_events      boolean     NOT NULL DEFAULT false,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wd_deliveries (
  delivery_id      uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  endpoint_id      text        NOT NULL,
  merchant_id      text        NOT NULL,
  -- The webhook-id: the store event's id, the same on every attempt and replay.
  message_id       text        NOT NULL,
  event_type       text        NOT NULL,
  -- The exact JSON body sent (signed as is on every attempt).
  body             text        NOT NULL,
  -- event: fanned out from the store; replay: asked by the merchant; test: POST /test.
  kind             text        NOT NULL CHECK (kind IN ('event', 'replay', 'test')),
  position         bigint,
  status           text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'canceled')),
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz,
  last_status_code integer,
  last_error       text,
  recorded_at      timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz
);
-- Nothing recorded is enqueued twice for one endpoint (a replay is a row of its own).
CREATE UNIQUE INDEX wd_deliveries_event_key ON wd_deliveries (endpoint_id, message_id) WHERE kind = 'event';
CREATE INDEX wd_deliveries_due_idx ON wd_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX wd_deliveries_log_idx ON wd_deliveries (endpoint_id, created_at DESC, delivery_id DESC);

CREATE TABLE wd_attempts (
  delivery_id  uuid        NOT NULL REFERENCES wd_deliveries (delivery_id),
  attempt      integer     NOT NULL,
  endpoint_id  text        NOT NULL,
  started_at   timestamptz NOT NULL,
  latency_ms   integer     NOT NULL,
  status_code  integer,
  error        text,
  worker       text        NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE wd_idempotency_keys (
  merchant_id   text        NOT NULL,
  key           text        NOT NULL,
  request_hash  text        NOT NULL,
  endpoint_id   text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, key)
);

GRANT SELECT, INSERT, UPDATE ON wd_endpoints, wd_endpoint_health, wd_links, wd_deliveries, wd_attempts TO paylinks_app;
GRANT SELECT, INSERT ON wd_endpoint_secrets TO paylinks_app;
GRANT SELECT, INSERT, DELETE ON wd_idempotency_keys TO paylinks_app;
