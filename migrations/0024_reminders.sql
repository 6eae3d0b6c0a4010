-- Reminder e-mails for unpaid links (link-issuer).

-- A merchant's reminder policy, one row per merchant; no row is the default: off. Durations are
-- seconds (the API enforces a floor, REMINDER_MIN_INTERVAL_S, an hour in production); the sweep
-- applies the policy in force when a reminder is due, not the one when the link was created.
CREATE TABLE li_reminder_policies (
  merchant_id        text        PRIMARY KEY REFERENCES merchants (id) ON DELETE CASCADE,
  enabled            boolean     NOT NULL,
  first_after_s      integer     NOT NULL CHECK (first_after_s >= 1),
  every_s            integer     NOT NULL CHECK (every_s >= 1),
  max_reminders      integer     NOT NULL CHECK (max_reminders BETWEEN 1 AND 5),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
-- The sweep reads the enabled ones only.
CREATE INDEX li_reminder_policies_enabled_idx ON li_reminder_policies (merchant_id) WHERE enabled;

-- Each reminder of a link is claimed here before it is sent, one row per (link, number), like
-- li_email_claims: 'sending' from the claim until the SMTP server accepted it, then 'accepted'
-- with its message id (from which `payment-link.reminded` is published, again after a crash).
-- A claim left 'sending' by a crash is never sent again: at most one e-mail per link and number.
CREATE TABLE li_reminder_claims (
  link_id     text        NOT NULL,
  reminder    integer     NOT NULL CHECK (reminder >= 1),
  status      text        NOT NULL CHECK (status IN ('sending', 'accepted')),
  message_id  text,
  claimed_at  timestamptz NOT NULL DEFAULT now(),
  accepted_at timestamptz,
  PRIMARY KEY (link_id, reminder)
);

-- The read model keeps when the link was last e-mailed (its first e-mail or its last reminder)
-- and how many reminders it has had, so the sweep finds due links through one partial index
-- (issued links that were e-mailed, by merchant and last e-mail) instead of scanning all links.
ALTER TABLE li_links
  ADD COLUMN reminders_sent  integer NOT NULL DEFAULT 0,
  ADD COLUMN last_emailed_at timestamptz;
UPDATE li_links SET last_emailed_at = email_sent_at WHERE email_sent_at IS NOT NULL;
-- Covering: the sweep's filters (count, expiry) and the link id come from the index itself, and
-- the scan, in last_emailed_at order, stops at the sweep's batch (an index-only scan).
CREATE INDEX li_links_reminder_due_idx ON li_links (merchant_id, last_emailed_at) INCLUDE (reminders_sent, expires_at, link_id)
  WHERE status = 'issued' AND last_emailed_at IS NOT NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON li_reminder_policies, li_reminder_claims TO paylinks_app;
