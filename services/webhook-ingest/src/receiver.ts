import type { Kysely } from 'kysely'
import { paymentLinkStream, type EventRegistry } from '@paylinks/contracts'
import type { EventPublisher } from '@paylinks/messaging'
import { webhookEventId } from './ids.js'
import type { LinkDirectory } from './link-directory.js'
import { deleteUnmatched, matchedUnmatched, saveUnmatched, type KnownLink } from './links.js'
import type { Tables } from './tables.js'

/** A verified delivery, reduced to what we keep. */
export interface VerifiedWebhook {
  merchantId: string
  dojoEventId: string
  event: string
  paymentIntentId: string
  paymentStatus: string
  receivedAt: Date
}

/** accepted: published now; duplicate: JetStream had it; pending: no link known for the intent yet, kept. */
export type ReceiveOutcome = 'accepted' | 'duplicate' | 'pending'

export interface Receiver {
  receive: (webhook: VerifiedWebhook) => Promise<ReceiveOutcome>
  /** Publish kept deliveries whose link is now known; returns how many. */
  matchPending: () => Promise<number>
}

/**
 * Turns a verified delivery into a `payment-link.webhook-received` event on the link's stream,
 * its id derived from Dojo's event id: Dojo's retries are answered as duplicates by JetStream
 * and skipped by the store. Resolves once JetStream acknowledged (or the database committed).
 */
export function createReceiver (options: { db: Kysely<Tables>, publisher: EventPublisher, registry: EventRegistry<any>, links: LinkDirectory }): Receiver {
  const { db, publisher, registry, links } = options

  async function publish (webhook: VerifiedWebhook, link: KnownLink): Promise<boolean> {
    const event = registry.create('payment-link.webhook-received', {
      linkId: link.linkId,
      paymentIntentId: webhook.paymentIntentId,
      dojoEventId: webhook.dojoEventId,
      event: webhook.event,
      paymentStatus: webhook.paymentStatus,
      receivedAt: webhook.receivedAt.toISOString()
    }, {
      streamId: paymentLinkStream(link.linkId),
      id: webhookEventId(webhook.dojoEventId),
      occurredAt: webhook.receivedAt,
      metadata: { correlationId: `dojo:${webhook.dojoEventId}`, producer: 'webhook-ingest' }
    })
    const [ack] = await publisher.publish([event])
    return ack!.duplicate
  }

  return {
    async receive (webhook) {
      const link = await links.find(webhook.paymentIntentId, webhook.merchantId)
      if (link === undefined) {
        const inserted = await saveUnmatched(db, webhook)
        return inserted ? 'pending' : 'duplicate'
      }
      return (await publish(webhook, link)) ? 'duplicate' : 'accepted'
    },
    async matchPending () {
      const found = await matchedUnmatched(db, 100)
      for (const webhook of found) {
        await publish(webhook, webhook)
        await deleteUnmatched(db, webhook.dojoEventId)
      }
      return found.length
    }
  }
}
