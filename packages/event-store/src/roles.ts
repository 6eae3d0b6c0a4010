import { sql } from 'kysely'
import type { Executor } from './events.js'

/**
 * The login role each service connects with (migration 0012). The owner of the tables runs
 * migrations only: a service role can never drop or disable the store's append-only triggers.
 */
export const DATABASE_ROLES = {
  eventRecorder: 'paylinks_event_recorder',
  linkIssuer: 'paylinks_link_issuer',
  webhookIngest: 'paylinks_webhook_ingest',
  projector: 'paylinks_projector',
  webhookDispatch: 'paylinks_webhook_dispatch',
  console: 'paylinks_console',
  analyst: 'paylinks_analyst'
} as const
export type DatabaseRole = typeof DATABASE_ROLES[keyof typeof DATABASE_ROLES]

/**
 * Give the login roles their passwords, as the owner (`ALTER ROLE … PASSWORD`). Migrations hold
 * no secret, so deployments call this after migrating, with passwords from their environment.
 * The server hashes them (scram-sha-256 by default).
 */
export async function setRolePasswords (db: Executor, passwords: Partial<Record<DatabaseRole, string>>): Promise<void> {
  for (const [role, password] of Object.entries(passwords)) {
    if (password === undefined || password === '') continue
    await sql`ALTER ROLE ${sql.id(role)} PASSWORD ${sql.lit(password)}`.execute(db)
  }
}
