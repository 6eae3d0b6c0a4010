-- webhook-ingest: Dojo webhook subscriptions (secrets sealed), the intent -> link map fed from
-- payment-link.issued events, the confirmation queue and webhooks for intents not known yet.
-- Working state, not facts: the facts are the events in es_events.

CREATE TABLE wi_subscriptions (
  merchant_id      text        PRIMARY KEY REFERENCES merchants (id),
  subscription_id  text        NOT NULL,
  url              text        NOT NULL,
  -- AES-256-GCM (packages/merchants secret box) of a JSON array of {id, value, active, retiredAt}.
  secrets_enc      text        NOT NULL,
  synced_at        timestamptz NOT NULL DEFAULT now()
);

-- One row per issued link; kept by a checkpointed store subscriber (exactly once).
CREATE TABLE wi_links (
  payment_intent_id text        PRIMARY KEY,
  link_id           text        NOT NULL UNIQUE,
  merchant_id       text        NOT NULL,
  status            text        NOT NULL,
  -- No more reconciliation needed (paid, refunded, reversed, canceled, expired, failed).
  settled           boolean     NOT NULL DEFAULT false,
  expires_at        timestamptz NOT NULL,
  changed_at        timestamptz NOT NULL,
  next_check_at     timestamptz NOT NULL,
  checks            integer     NOT NULL DEFAULT 0
);
CREATE INDEX wi_links_due_idx ON wi_links (next_check_at) WHERE NOT settled;

-- Confirmations to do: one per recorded webhook-received event, or per reconciler check.
-- A worker leases a row (next_attempt_at moves forward), asks Dojo, publishes, deletes it.
CREATE TABLE wi_confirmations (
  key               text        PRIMARY KEY,
  payment_intent_id text        NOT NULL,
  source            text        NOT NULL CHECK (source IN ('webhook', 'reconciler')),
  cause_event_id    uuid,
  correlation_id    text        NOT NULL,
  received_at       timestamptz NOT NULL,
  attempts          integer     NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  last_error        text
);
CREATE INDEX wi_confirmations_due_idx ON wi_confirmations (next_attempt_at);

-- Verified deliveries for an intent no issued link is known for (yet): kept until the link
-- appears, then published as payment-link.webhook-received.
CREATE TABLE wi_unmatched_webhooks (
  dojo_event_id     text        PRIMARY KEY,
  merchant_id       text        NOT NULL,
  payment_intent_id text        NOT NULL,
  event             text        NOT NULL,
  payment_status    text        NOT NULL,
  received_at       timestamptz NOT NULL
);
CREATE INDEX wi_unmatched_webhooks_intent_idx ON wi_unmatched_webhooks (payment_intent_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON wi_subscriptions, wi_links, wi_confirmations, wi_unmatched_webhooks TO paylinks_app;
