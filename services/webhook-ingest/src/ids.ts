import { createHash } from 'node:crypto'

// A fixed namespace for this service's name-based ids (RFC 9562 UUIDv5).
const NAMESPACE = Buffer.from('6f1c2b7e0d5a4c3e9b8a1f2e3d4c5b6a', 'hex')

/** A UUIDv5 of `name`: the same name always gives the same id, so re-publishes de-duplicate. */
export function uuidV5 (name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest()
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The id of the webhook-received event for a Dojo delivery (`evt_…`): retries map to one event. */
export const webhookEventId = (dojoEventId: string): string => uuidV5(`dojo-webhook:${dojoEventId}`)

/** The id of a status change: a link makes each forward move at most once. */
export const statusChangeEventId = (linkId: string, from: string, to: string): string => uuidV5(`status:${linkId}:${from}:${to}`)

/** The id of a capture or refund seen at Dojo: each is recorded once, whoever sees it first. */
export const moneyEventId = (linkId: string, kind: string, id: string): string => uuidV5(`${kind}:${linkId}:${id}`)
