-- Reusable payment links (link-issuer): one URL for many payers. The record is the
-- `reusable-link.<id>` stream; these tables are link-issuer's read model of it, kept by its
-- store subscriber 'link-issuer.reusable' (checkpointed with them).

-- A merchant's reusable links, for the list (newest first). Each one's counts come from its events.
CREATE TABLE li_reusable_links (
  reusable_link_id   text        PRIMARY KEY,
  merchant_id        text        NOT NULL,
  reference          text        NOT NULL,
  created_at         timestamptz NOT NULL
);
CREATE INDEX li_reusable_links_list_idx ON li_reusable_links (merchant_id, created_at DESC, reusable_link_id DESC);

-- Each admitted payer's child link, until its place is settled (paid, or freed): the sweep
-- finds the holds that have ended, and the subscriber the status events of children.
CREATE TABLE li_reusable_children (
  link_id            text        PRIMARY KEY,
  reusable_link_id   text        NOT NULL,
  merchant_id        text        NOT NULL,
  hold_until         timestamptz NOT NULL,
  settled            boolean     NOT NULL DEFAULT false
);
CREATE INDEX li_reusable_children_hold_idx ON li_reusable_children (hold_until) WHERE NOT settled;

-- Only link-issuer's role: the other services of paylinks_app have no business with them.
GRANT SELECT, INSERT, UPDATE, DELETE ON li_reusable_links, li_reusable_children TO paylinks_link_issuer;
