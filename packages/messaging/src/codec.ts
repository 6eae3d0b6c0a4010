import { headers, type MsgHdrs } from '@nats-io/transport-node'
import type { JsMsg } from '@nats-io/jetstream'
import type { NewEvent } from '@paylinks/contracts'
import { MessagingError, MessagingErrorCodes } from './errors.js'

/**
 * Headers every event message carries (besides Nats-Msg-Id), so consumers can route on the type
 * without parsing the body. Kept to one: each header costs about 5 % of the publish rate.
 */
export const EventHeaders = {
  type: 'Event-Type'
} as const

/** One subject per stream: `<prefix>.<category>.<id>`, so a link's history is one subject. */
export function subjectFor (prefix: string, streamId: string): string {
  return `${prefix}.${streamId}`
}

export function eventHeaders (event: NewEvent): MsgHdrs {
  const h = headers()
  h.set(EventHeaders.type, event.type)
  return h
}

/** The event as its message body: UTF-8 JSON (a Buffer: small ones come from Node's pool, not an allocation of their own). */
export function encodeEvent (event: NewEvent): Uint8Array {
  return Buffer.from(JSON.stringify(event), 'utf8')
}

/** A message read from the events stream: its stream sequence is its global position. */
export interface EventMessage {
  seq: number
  subject: string
  /** When JetStream stored it. */
  storedAt: Date
  /** The body parsed as JSON; not yet validated. */
  body: unknown
  msg: JsMsg
}

/** Parse an event message's body. Throws MSG_DECODE when it is not JSON. */
export function decodeEventMessage (msg: JsMsg): EventMessage {
  let body: unknown
  try {
    body = msg.json()
  } catch (error) {
    throw new MessagingError(MessagingErrorCodes.decode, `message ${msg.seq} on ${msg.subject} is not JSON`, { cause: error })
  }
  return { seq: msg.seq, subject: msg.subject, storedAt: msg.time, body, msg }
}
