-- A merchant's reference names one link for all time, and an order id one reference. JetStream's
-- expected sequence only guards a reference while the stream still holds the link's events
-- (EVENTS_MAX_AGE_HOURS): after that, sequence 0 is accepted again. So the claim is a Postgres
-- constraint, taken before `payment-link.requested` is published.
CREATE TABLE li_references (
  merchant_id   text        NOT NULL,
  reference     text        NOT NULL,
  link_id       text        NOT NULL,
  -- The causation id of the request that claimed it (Idempotency-Key-derived, or order:<orderId>):
  -- the same requester asking again is a retry and gets the link; anyone else is refused.
  requested_by  text        NOT NULL,
  order_id      text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, reference)
);
CREATE UNIQUE INDEX li_references_order_key ON li_references (merchant_id, order_id) WHERE order_id IS NOT NULL;

-- Links requested before this table existed, claimed by their first requested event (the one the
-- fold keeps). A link it cannot claim (an order id already used by an older link) is still found
-- at request time by its events.
INSERT INTO li_references (merchant_id, reference, link_id, requested_by, order_id, created_at)
SELECT data->>'merchantId', data->>'reference', data->>'linkId',
       COALESCE(metadata->>'causationId', metadata->>'correlationId'), data->>'orderId', occurred_at
FROM es_events
WHERE type = 'payment-link.requested'
ORDER BY position
ON CONFLICT DO NOTHING;

-- The Idempotency-Key sweep deletes by age.
CREATE INDEX li_idempotency_keys_created_idx ON li_idempotency_keys (created_at);

-- No DELETE: a claim is forever. UPDATE only hands over a claim whose request never got published.
GRANT SELECT, INSERT, UPDATE ON li_references TO paylinks_app;
