-- The console finds a merchant's links by customer e-mail (issue 19). li_links keeps the link's
-- customer id (cus_…, from payment-link.requested): never the address itself. A search hashes
-- the address as pii_keys' lookup does and matches that customer's ids; an erased customer has
-- no live lookup, so their links are no longer found by address.
ALTER TABLE li_links ADD COLUMN customer_id text;
CREATE INDEX li_links_merchant_customer_idx ON li_links (merchant_id, customer_id, created_at DESC) WHERE customer_id IS NOT NULL;

-- Links requested before now, from their sealed (v2) requested events. v1 events carried the
-- customer in clear and get their id when upcast; those links are not backfilled.
UPDATE li_links l SET customer_id = e.data -> 'customer' ->> 'id'
  FROM es_events e
  WHERE e.stream_id = 'payment-link.' || l.link_id AND e.type = 'payment-link.requested'
    AND e.schema_version >= 2 AND e.data -> 'customer' ->> 'id' IS NOT NULL;
