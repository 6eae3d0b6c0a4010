-- Short, renewed and fenced issue leases, and one e-mail per link across replicas.

-- Every take of a lease gets a generation from one sequence, never reused: a holder renews and
-- publishes only while the row still carries its generation, so one that lost its lease (a
-- pause, a dropped connection) is fenced even if the same process takes the lease again later.
CREATE SEQUENCE li_issue_lease_generation;
ALTER TABLE li_issue_leases
  ADD COLUMN generation bigint NOT NULL DEFAULT nextval('li_issue_lease_generation'),
  -- The holder's instance lock (pg_try_advisory_lock(class, owner_lock) held by its process on a
  -- connection of its own): once that session ends (the process was killed) the lease is free at
  -- once instead of at expires_at. NULL for leases taken before this migration.
  ADD COLUMN owner_lock integer;
CREATE INDEX li_issue_leases_expires_idx ON li_issue_leases (expires_at);

-- The e-mail of a link is claimed here before it is sent, so it is sent at most once whatever
-- the replicas, crashes and retries: 'sending' from the claim until the SMTP server accepted it,
-- then 'accepted' with its message id (from which `payment-link.sent` is published, again after
-- a crash). A claim left 'sending' by a crash is never sent again: at most one e-mail per link.
CREATE TABLE li_email_claims (
  link_id     text        PRIMARY KEY,
  status      text        NOT NULL CHECK (status IN ('sending', 'accepted')),
  message_id  text,
  claimed_at  timestamptz NOT NULL DEFAULT now(),
  accepted_at timestamptz
);

GRANT SELECT, INSERT, UPDATE, DELETE ON li_email_claims TO paylinks_app;
GRANT USAGE ON SEQUENCE li_issue_lease_generation TO paylinks_app;
