-- Opens of a link's short URL (GET /l/<code>), counted by link-issuer. Every open is counted here;
-- `payment-link.opened` is published at the first and then at most once a minute carrying the
-- count (`published_opens` is the count the last published event carried), so a customer
-- reloading the page, or a bot, cannot flood the event log. The recovery sweep publishes a count
-- that has been waiting longer than that.
CREATE TABLE li_link_opens (
  link_id          text        PRIMARY KEY,
  opens            integer     NOT NULL CHECK (opens >= 1),
  first_opened_at  timestamptz NOT NULL DEFAULT now(),
  last_opened_at   timestamptz NOT NULL DEFAULT now(),
  published_opens  integer     NOT NULL DEFAULT 0,
  published_at     timestamptz
);
CREATE INDEX li_link_opens_unpublished ON li_link_opens (last_opened_at) WHERE opens > published_opens;

GRANT SELECT, INSERT, UPDATE, DELETE ON li_link_opens TO paylinks_app;
