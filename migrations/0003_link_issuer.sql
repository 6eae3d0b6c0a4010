-- link-issuer's own tables. Facts live in es_events; these are coordination and a read model.

-- An Idempotency-Key, per merchant: the hash of the first request's body, so a different body
-- under the same key is refused. The answer itself is replayed from the link's events.
CREATE TABLE li_idempotency_keys (
  merchant_id   text        NOT NULL,
  key           text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_hash  text        NOT NULL,
  link_id       text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, key)
);

-- Who may call Dojo to create a link's intent right now. A lease, not a lock held on a
-- connection: it outlives no one longer than expires_at, and one INSERT takes or renews it.
CREATE TABLE li_issue_leases (
  link_id     text        PRIMARY KEY,
  owner       text        NOT NULL,
  expires_at  timestamptz NOT NULL
);

-- The partner-facing read model of links, kept by the store subscriber 'link-issuer.links' in the
-- same transaction as its checkpoint. Rebuild: drop the rows and the checkpoint.
CREATE TABLE li_links (
  link_id            text        PRIMARY KEY,
  merchant_id        text        NOT NULL,
  reference          text        NOT NULL,
  status             text        NOT NULL,
  amount_value       bigint      NOT NULL,
  currency_code      text        NOT NULL,
  payment_intent_id  text,
  url                text,
  source             text        NOT NULL,
  order_id           text,
  email_requested    boolean     NOT NULL DEFAULT false,
  email_sent_at      timestamptz,
  expires_at         timestamptz NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  last_position      bigint      NOT NULL
);
CREATE INDEX li_links_merchant_created_idx ON li_links (merchant_id, created_at DESC, link_id DESC);
CREATE INDEX li_links_merchant_status_idx ON li_links (merchant_id, status, created_at DESC);
CREATE INDEX li_links_merchant_reference_idx ON li_links (merchant_id, reference);
CREATE INDEX li_links_requested_idx ON li_links (created_at) WHERE status = 'requested';

GRANT SELECT, INSERT, UPDATE, DELETE ON li_idempotency_keys, li_issue_leases, li_links TO paylinks_app;
