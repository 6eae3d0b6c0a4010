-- Projections: read models built from the event store. Each projection's tables exist per
-- generation (projections.<table>_g<n>); a rebuild fills a new generation from position 0 while
-- the active one keeps serving, then swaps the views in `analytics` in one transaction.

CREATE SCHEMA projections;
CREATE SCHEMA analytics;

CREATE TABLE projections.generations (
  name          text        NOT NULL,
  generation    integer     NOT NULL CHECK (generation > 0),
  version       integer     NOT NULL,
  status        text        NOT NULL CHECK (status IN ('building', 'active', 'retired')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  activated_at  timestamptz,
  PRIMARY KEY (name, generation)
);
CREATE UNIQUE INDEX generations_one_active ON projections.generations (name) WHERE status = 'active';
CREATE UNIQUE INDEX generations_one_building ON projections.generations (name) WHERE status = 'building';

-- Analysts read the documented views in `analytics` (see services/projector/README.md).
GRANT USAGE ON SCHEMA analytics TO paylinks_reader, paylinks_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO paylinks_reader, paylinks_app;
