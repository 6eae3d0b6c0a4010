-- Crypto-shredding (issue 18): each customer's personal data is sealed in events under a key of
-- its own, kept here sealed with SECRETS_ENCRYPTION_KEYS. Erasing a customer destroys its key
-- (sealed_key and lookup set to NULL): the log is never rewritten, its sealed fields become
-- unreadable. A row with no key is an erased customer (also the marker for v1 links, whose
-- personal fields were recorded in clear and can then only be hidden by readers).
CREATE TABLE pii_keys (
  subject_id   text        PRIMARY KEY CHECK (subject_id LIKE 'cus\_%'),
  merchant_id  text        NOT NULL,
  -- SHA-256 of merchant + normalised e-mail (or phone): finds the customer of the next link.
  lookup       text,
  sealed_key   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  erased_at    timestamptz,
  CHECK ((erased_at IS NULL) = (sealed_key IS NOT NULL)),
  CHECK (erased_at IS NULL OR lookup IS NULL)
);
-- One live key per customer of a merchant; after an erasure the same e-mail gets a new one.
CREATE UNIQUE INDEX pii_keys_live_lookup_key ON pii_keys (merchant_id, lookup) WHERE erased_at IS NULL;

-- No DELETE: an erased customer's row is its erasure marker.
GRANT SELECT, INSERT, UPDATE ON pii_keys TO paylinks_app;
