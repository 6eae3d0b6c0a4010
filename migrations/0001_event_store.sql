-- The event store: every fact, in log order, forever.
-- position is the JetStream stream sequence the event was published at: one writer
-- (event-recorder) inserts in that order, so readers following position never skip an event.

CREATE TABLE es_events (
  position        bigint      PRIMARY KEY CHECK (position > 0),
  event_id        uuid        NOT NULL,
  stream_id       text        NOT NULL,
  stream_version  integer     NOT NULL CHECK (stream_version > 0),
  type            text        NOT NULL,
  schema_version  integer     NOT NULL CHECK (schema_version > 0),
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL,
  occurred_at     timestamptz NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT es_events_event_id_key UNIQUE (event_id),
  CONSTRAINT es_events_stream_version_key UNIQUE (stream_id, stream_version)
);

CREATE INDEX es_events_type_position_idx ON es_events (type, position);

-- Messages on the events stream that were not event envelopes: kept, never dropped.
CREATE TABLE es_dead_letters (
  position     bigint      PRIMARY KEY,
  subject      text        NOT NULL,
  reason       text        NOT NULL,
  body         text        NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- Named checkpoints of store consumers (projections, integration publishers), updated in the
-- same transaction as their effects.
CREATE TABLE es_checkpoints (
  name        text        PRIMARY KEY,
  position    bigint      NOT NULL CHECK (position >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Append-only by the database, not by convention: UPDATE, DELETE and TRUNCATE fail for
-- everyone, superusers included (only disabling the trigger, which needs table ownership, gets past).
CREATE FUNCTION es_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'es_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation', HINT = 'Record a new event that corrects the old one.';
END
$$;

CREATE TRIGGER es_events_no_update_or_delete BEFORE UPDATE OR DELETE ON es_events
  FOR EACH ROW EXECUTE FUNCTION es_refuse_change();
CREATE TRIGGER es_events_no_truncate BEFORE TRUNCATE ON es_events
  FOR EACH STATEMENT EXECUTE FUNCTION es_refuse_change();

-- Wake live subscribers once per committed batch with the highest new position.
CREATE FUNCTION es_notify_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  head bigint;
BEGIN
  SELECT max(position) INTO head FROM recorded;
  IF head IS NOT NULL THEN
    PERFORM pg_notify('es_events', head::text);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER es_events_notify AFTER INSERT ON es_events
  REFERENCING NEW TABLE AS recorded FOR EACH STATEMENT EXECUTE FUNCTION es_notify_recorded();

-- Roles (cluster-wide, so created only when missing). Services log in as roles that are
-- members of these; grants say what each may do to the store.
DO $$
BEGIN
  BEGIN CREATE ROLE paylinks_recorder NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
  BEGIN CREATE ROLE paylinks_app NOLOGIN;      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
  BEGIN CREATE ROLE paylinks_reader NOLOGIN;   EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
END
$$;

REVOKE ALL ON es_events, es_dead_letters, es_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON es_events, es_dead_letters TO paylinks_recorder;
GRANT SELECT ON es_events TO paylinks_app, paylinks_reader;
GRANT SELECT, INSERT, UPDATE ON es_checkpoints TO paylinks_app;
GRANT SELECT ON es_checkpoints TO paylinks_reader;
