-- projector: what the integration publisher needs to know of each link to fill the contract
-- events order systems receive (kept in the same transaction as its checkpoint).
CREATE TABLE pr_integration_links (
  link_id       text        PRIMARY KEY,
  merchant_id   text        NOT NULL,
  reference     text        NOT NULL,
  order_id      text,
  amount_value  bigint      NOT NULL,
  currency      text        NOT NULL,
  status        text        NOT NULL,
  refunded      bigint      NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON pr_integration_links TO paylinks_app;
