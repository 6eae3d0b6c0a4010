import { createHash } from 'node:crypto'
import type { SessionStore } from '@fastify/session'
import type { Db } from './tables.js'

const sha256 = (id: string): Buffer => createHash('sha256').update(id).digest()

/**
 * @fastify/session's store in Postgres (console.sessions), so sessions survive restarts and are
 * shared by replicas. Rows are keyed by the SHA-256 of the session id: a leaked table signs no
 * one in. `user_id` is kept beside the data so a user's sessions can be ended at once.
 */
export function createSessionStore (db: Db, ttlMs: number): SessionStore & { prune: () => Promise<void> } {
  return {
    set (sessionId, session, callback) {
      const data = JSON.parse(JSON.stringify(session)) as { userId?: string }
      const expires = new Date(Date.now() + ttlMs)
      db.insertInto('console.sessions').values({ sid_hash: sha256(sessionId), user_id: data.userId ?? null, data: JSON.stringify(data), expires_at: expires })
        .onConflict((oc) => oc.column('sid_hash').doUpdateSet({ user_id: data.userId ?? null, data: JSON.stringify(data), expires_at: expires }))
        .execute().then(() => { callback() }, callback)
    },
    get (sessionId, callback) {
      db.selectFrom('console.sessions').select('data').where('sid_hash', '=', sha256(sessionId)).where('expires_at', '>', new Date()).executeTakeFirst()
        .then((row) => { callback(null, (row?.data ?? null) as any) }, (error: Error) => { callback(error) })
    },
    destroy (sessionId, callback) {
      db.deleteFrom('console.sessions').where('sid_hash', '=', sha256(sessionId)).execute().then(() => { callback() }, callback)
    },
    async prune () {
      await db.deleteFrom('console.sessions').where('expires_at', '<=', new Date()).execute()
    }
  }
}
