-- What the record refused and what readers could not read (issue 18): one bad event never
-- stops the recorder or a reader.

-- Why a message was dead-lettered, as a stable word for metrics and the recorder's /status
-- (not-an-event, subject-mismatch, unknown-type, unsupported-version, invalid-data,
-- producer-not-allowed); `reason` keeps the full sentence.
ALTER TABLE es_dead_letters ADD COLUMN kind text NOT NULL DEFAULT 'not-an-event';

-- Events a store subscriber met but could not read (a type or version newer than it knows,
-- data its schema refuses): parked in the transaction that moves its checkpoint past them, and
-- applied later by a replay once the reader is upgraded (`replayed_at` set in that transaction).
CREATE TABLE es_parked_events (
  subscriber      text        NOT NULL,
  position        bigint      NOT NULL,
  event_id        uuid        NOT NULL,
  type            text        NOT NULL,
  schema_version  integer     NOT NULL,
  code            text        NOT NULL,
  reason          text        NOT NULL,
  parked_at       timestamptz NOT NULL DEFAULT now(),
  replayed_at     timestamptz,
  PRIMARY KEY (subscriber, position)
);
CREATE INDEX es_parked_events_waiting_idx ON es_parked_events (subscriber, position) WHERE replayed_at IS NULL;

REVOKE ALL ON es_parked_events FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON es_parked_events TO paylinks_app;
