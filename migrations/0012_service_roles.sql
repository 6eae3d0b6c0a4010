-- Least privilege: every service logs in with a role of its own, and nothing but migrations
-- runs as the owner of the tables (only an owner can drop or disable es_events' triggers).
--   paylinks_event_recorder  in paylinks_recorder: INSERT and SELECT on the store, nothing else
--   paylinks_link_issuer, paylinks_webhook_ingest, paylinks_projector  in paylinks_app: their
--     tables, SELECT on the store, checkpoints; the projector also creates its generations
--   paylinks_analyst  in paylinks_reader: the analytics views only (no personal data)
-- No password here: `pnpm migrate` / `pnpm start` set them from the environment.

-- Roles are cluster-wide and test databases are migrated side by side: create each, with its
-- membership, in one statement, and treat "someone else just did" as done.
DO $$
BEGIN
  BEGIN CREATE ROLE paylinks_event_recorder LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS IN ROLE paylinks_recorder;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
  BEGIN CREATE ROLE paylinks_link_issuer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS IN ROLE paylinks_app;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
  BEGIN CREATE ROLE paylinks_webhook_ingest LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS IN ROLE paylinks_app;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
  BEGIN CREATE ROLE paylinks_projector LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS IN ROLE paylinks_app;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
  BEGIN CREATE ROLE paylinks_analyst LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS IN ROLE paylinks_reader;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
END
$$;

-- PG15 already refuses CREATE in public to PUBLIC; older clusters do not.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- A service started with MIGRATE_ON_START under its own role checks that nothing is pending
-- (Kysely reads these); applying a migration still needs the owner (MIGRATION_DATABASE_URL).
GRANT SELECT ON kysely_migration, kysely_migration_lock TO paylinks_app, paylinks_recorder;

-- The raw log holds customers' e-mail, phone and names: analysts read the analytics views only.
REVOKE ALL ON es_events, es_dead_letters, es_checkpoints FROM paylinks_reader;

-- The projector creates and drops its generations' tables and swaps the analytics views, so it
-- owns them; the generations registry stays the owner's.
GRANT USAGE, CREATE ON SCHEMA projections, analytics TO paylinks_projector;
GRANT SELECT, INSERT, UPDATE ON projections.generations TO paylinks_projector;
-- Views the projector creates are readable by analysts and the services, as 0006's were.
ALTER DEFAULT PRIVILEGES FOR ROLE paylinks_projector IN SCHEMA analytics GRANT SELECT ON TABLES TO paylinks_reader, paylinks_app;

-- Generations built before this migration (by the owner, when services connected as the
-- owner) pass to the projector, which will drop them at its next rebuild.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('projections', 'analytics') AND c.relkind IN ('r', 'v', 'p')
      AND NOT (n.nspname = 'projections' AND c.relname = 'generations')
  LOOP
    EXECUTE format('ALTER TABLE %I.%I OWNER TO paylinks_projector', r.nspname, r.relname);
  END LOOP;
END
$$;
