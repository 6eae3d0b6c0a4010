import t from 'tap'
import fc from 'fast-check'
import { sql, type Transaction } from 'kysely'
import {
  createEventRegistry, domainEvents, evolveLink, foldLink, foldLinkStatus, isForwardMove, LINK_STATUSES, paymentLinkStream,
  type LinkState, type LinkStatus, type RecordedEvent
} from '@paylinks/contracts'
import { createDatabase, type Executor } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { onTeardown } from '@paylinks/test-kit'
import { evolveIssuerLink, foldLink as foldIssuerLink } from '../services/link-issuer/src/link.js'
import { applyLinkEvents } from '../services/link-issuer/src/read-model.js'
import { evolveIngestLink, type IngestLinkState } from '../services/webhook-ingest/src/status.js'
import { payments } from '../services/projector/src/projections/payments.js'
import type { ProjectorTables } from '../services/projector/src/tables.js'

// Every service's view of a link's status, for random histories (sensible and nonsense orders):
// they must all agree with the contracts' fold, since they all fold with linkStatusAfter.

const registry = createEventRegistry(domainEvents)
const { url } = await createMigratedTestDatabase(t)
const db = createDatabase({ connectionString: url, max: 2 }) as unknown as Executor
onTeardown(t, () => db.destroy())
const projectorTable = (table: string): string => `projections.${table}_prop`
await sql.raw(payments.createTables(projectorTable)).execute(db)

type Kind =
  | { kind: 'requested' } | { kind: 'issued' } | { kind: 'issue-failed', retryable: boolean } | { kind: 'sent' }
  | { kind: 'canceled' } | { kind: 'webhook-received' } | { kind: 'status-changed', from: LinkStatus, to: LinkStatus, capturedAmount: number }
  | { kind: 'captured', captureId: string, value: number, capturedAmount: number }
  | { kind: 'refunded', refundId: string, value: number, refundedAmount: number, capturedAmount: number }
  | { kind: 'released' }

const status = fc.constantFrom(...LINK_STATUSES)
const kind: fc.Arbitrary<Kind> = fc.oneof(
  fc.constant({ kind: 'requested' as const }),
  fc.constant({ kind: 'issued' as const }),
  fc.boolean().map((retryable) => ({ kind: 'issue-failed' as const, retryable })),
  fc.constant({ kind: 'sent' as const }),
  fc.constant({ kind: 'canceled' as const }),
  fc.constant({ kind: 'webhook-received' as const }),
  fc.record({ from: status, to: status, capturedAmount: fc.constantFrom(0, 1234) }).map((m) => ({ kind: 'status-changed' as const, ...m })),
  // Amounts around the link's total (1234), past it too: the rule must cap them.
  fc.record({ captureId: fc.constantFrom('cp_a', 'cp_b', 'cp_c'), value: fc.integer({ min: 1, max: 1300 }), capturedAmount: fc.integer({ min: 1, max: 1500 }) }).map((m) => ({ kind: 'captured' as const, ...m })),
  fc.record({ refundId: fc.constantFrom('rf_a', 'rf_b', 'rf_c'), value: fc.integer({ min: 1, max: 1300 }), refundedAmount: fc.integer({ min: 1, max: 1500 }), capturedAmount: fc.constantFrom(400, 1234, 1500) }).map((m) => ({ kind: 'refunded' as const, ...m })),
  fc.constant({ kind: 'released' as const })
)
// Mostly histories that start with the request, some that never had one.
const story = fc.tuple(fc.boolean(), fc.boolean(), fc.array(kind, { maxLength: 10 }))
  .map(([requestedFirst, alsoSensible, rest]) => requestedFirst || alsoSensible ? [{ kind: 'requested' as const }, ...rest] : rest)
const scenario = fc.record({
  stories: fc.array(story, { minLength: 1, maxLength: 4 }),
  // Which link each next event comes from (interleaving), and where batches end.
  order: fc.array(fc.nat(), { maxLength: 60 }),
  cuts: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 20 })
})

let position = 0
let run = 0

function eventOf (linkId: string, k: Kind, occurredAt: string, streamVersion: number): RecordedEvent {
  const merchantId = 'mer_property'
  const pi = `pi_sandbox_${linkId.slice(4, 20)}`
  const data: Record<string, unknown> = (() => {
    switch (k.kind) {
      case 'requested': return { linkId, merchantId, reference: `ref-${linkId}`, amount: { value: 1234, currencyCode: 'GBP' }, expiresAt: '2027-01-01T00:00:00.000Z', sendEmail: true, source: 'api' }
      case 'issued': return { linkId, merchantId, paymentIntentId: pi, url: `https://pay.example/checkout/${pi}`, expiresAt: '2027-01-01T00:00:00.000Z' }
      case 'issue-failed': return { linkId, merchantId, reason: 'refused', retryable: k.retryable }
      case 'sent': return { linkId, channel: 'email' }
      case 'canceled': return { linkId }
      case 'webhook-received': return { linkId, paymentIntentId: pi, dojoEventId: `evt_${position}`, event: 'payment_intent.status_updated', paymentStatus: 'Captured', receivedAt: occurredAt }
      case 'status-changed': return { linkId, paymentIntentId: pi, from: k.from, to: k.to, dojoStatus: 'Captured', amount: { value: 1234, currencyCode: 'GBP' }, capturedAmount: k.capturedAmount, refundedAmount: 0, source: 'webhook', observedAt: occurredAt }
      case 'captured': return { linkId, paymentIntentId: pi, captureId: k.captureId, amount: { value: k.value, currencyCode: 'GBP' }, capturedAmount: k.capturedAmount, source: 'api', observedAt: occurredAt }
      case 'refunded': return { linkId, paymentIntentId: pi, refundId: k.refundId, amount: { value: k.value, currencyCode: 'GBP' }, refundedAmount: k.refundedAmount, capturedAmount: k.capturedAmount, source: 'reconciler', observedAt: occurredAt }
      case 'released': return { linkId, paymentIntentId: pi, source: 'webhook', observedAt: occurredAt }
    }
  })()
  const created = registry.create(`payment-link.${k.kind}`, data as never, { streamId: paymentLinkStream(linkId), metadata: { correlationId: 'property' }, occurredAt: new Date(occurredAt) })
  return { ...created, position: ++position, streamVersion, recordedAt: occurredAt }
}

/** The log: the stories' events interleaved as `order` says, with increasing positions. */
function logOf (stories: Kind[][], order: number[]): { linkIds: string[], events: RecordedEvent[] } {
  run++
  const linkIds = stories.map((_, i) => `lnk_prop${run}x${i}${Math.random().toString(36).slice(2, 8)}`)
  const queues = stories.map((s) => [...s])
  const versions = stories.map(() => 0)
  const events: RecordedEvent[] = []
  let turn = 0
  while (queues.some((q) => q.length > 0)) {
    const open = queues.map((q, i) => (q.length > 0 ? i : -1)).filter((i) => i >= 0)
    const i = open[(order[turn++] ?? 0) % open.length]!
    const occurredAt = new Date(Date.UTC(2026, 5, 1) + position * 1000).toISOString()
    events.push(eventOf(linkIds[i]!, queues[i]!.shift()!, occurredAt, ++versions[i]!))
  }
  return { linkIds, events }
}

function batchesOf<T> (items: T[], cuts: number[]): T[][] {
  const batches: T[][] = []
  for (let i = 0, c = 0; i < items.length; c++) {
    const size = cuts[c] ?? items.length
    batches.push(items.slice(i, i + size))
    i += size
  }
  return batches
}

async function applyInBatches (batches: RecordedEvent[][], apply: (trx: Executor, batch: RecordedEvent[]) => Promise<void>): Promise<void> {
  for (const batch of batches) await db.transaction().execute(async (trx) => { await apply(trx, batch) })
}

async function statusesIn (table: string, linkIds: string[]): Promise<Map<string, string>> {
  const { rows } = await sql<{ link_id: string, status: string }>`SELECT link_id, status FROM ${sql.raw(table)} WHERE link_id = ANY(${linkIds})`.execute(db)
  return new Map(rows.map((r) => [r.link_id, r.status]))
}

async function amountsIn (table: string, linkIds: string[]): Promise<Map<string, string>> {
  const { rows } = await sql<{ link_id: string, c: string, r: string }>`SELECT link_id, captured_amount AS c, refunded_amount AS r FROM ${sql.raw(table)} WHERE link_id = ANY(${linkIds})`.execute(db)
  return new Map(rows.map((r) => [r.link_id, `${Number(r.c)}/${Number(r.r)}`]))
}

const amountsOf = (state: Pick<LinkState, 'capturedAmount' | 'refundedAmount'> | undefined): string | undefined =>
  state === undefined ? undefined : `${state.capturedAmount}/${state.refundedAmount}`

t.test('every service\'s fold should agree with the contracts\' linkStatusAfter on random histories', async (t) => {
  let compared = 0
  let requestedLinks = 0
  await fc.assert(fc.asyncProperty(scenario, async ({ stories, order, cuts }) => {
    const { linkIds, events } = logOf(stories, order)
    const batches = batchesOf(events, cuts)
    // Each reader gets the types it subscribes to, in the same batches.
    await applyInBatches(batches.map((b) => b.filter((e) => e.type !== 'payment-link.webhook-received')), applyLinkEvents)
    const paymentTypes = new Set<string>(payments.events.map((e) => e.type))
    await applyInBatches(batches.map((b) => b.filter((e) => paymentTypes.has(e.type))), async (trx, batch) => { await payments.apply(trx as unknown as Transaction<ProjectorTables>, batch as Parameters<typeof payments.apply>[1], projectorTable) })
    const readModel = await statusesIn('li_links', linkIds)
    const projector = await statusesIn(projectorTable('links'), linkIds)
    const projectorAmounts = await amountsIn(projectorTable('links'), linkIds)

    for (const linkId of linkIds) {
      const history = events.filter((e) => (e.data as { linkId: string }).linkId === linkId)
      const expected = foldLinkStatus(history)
      const views = {
        'contracts foldLink': foldLink(history)?.status,
        'link-issuer foldLink': foldIssuerLink(history)?.status,
        'link-issuer evolveIssuerLink': history.reduce(evolveIssuerLink, undefined)?.status,
        'webhook-ingest evolveIngestLink': history.reduce<IngestLinkState | undefined>(evolveIngestLink, undefined)?.status,
        'link-issuer read model (li_links)': readModel.get(linkId),
        'projector payments (links)': projector.get(linkId)
      }
      const told = (): string => history.map((e) => e.type.slice(13) + (e.type.endsWith('status-changed') ? `:${String(e.data.to)}` : e.type.endsWith('failed') ? `:${String(e.data.retryable)}` : e.type.endsWith('refunded') ? `:${String(e.data.refundedAmount)}/${String(e.data.capturedAmount)}` : e.type.endsWith('captured') ? `:${String(e.data.capturedAmount)}` : '')).join(', ')
      for (const [view, actual] of Object.entries(views)) {
        if (actual !== expected) throw new Error(`${view} says ${String(actual)}, linkStatusAfter says ${String(expected)} for ${told()}`)
      }
      // The money half of the rule: every view holds the same amounts.
      const state = foldLink(history)
      const amountViews = {
        'link-issuer foldLink': amountsOf(foldIssuerLink(history)),
        'webhook-ingest evolveIngestLink': amountsOf(history.reduce<IngestLinkState | undefined>(evolveIngestLink, undefined)),
        'projector payments (links)': projectorAmounts.get(linkId)
      }
      for (const [view, actual] of Object.entries(amountViews)) {
        if (actual !== amountsOf(state)) throw new Error(`${view} says ${String(actual)}, evolveLink says ${String(amountsOf(state))} for ${told()}`)
      }
      if (state !== undefined) {
        // Amounts never exceed what holds them; statuses never move back; a refund or capture repeated changes nothing.
        if (!(state.refundedAmount <= state.capturedAmount && state.capturedAmount <= state.amount.value)) throw new Error(`amounts ${amountsOf(state)} exceed ${state.amount.value} for ${told()}`)
        let s: LinkState | undefined
        for (const e of history) {
          const next = evolveLink(s, e)
          if (s !== undefined && next !== undefined && next.status !== s.status && !isForwardMove(s.status, next.status)) throw new Error(`${s.status} → ${next.status} is not forward`)
          if (s !== undefined && next !== undefined && (e.type === 'payment-link.refunded' || e.type === 'payment-link.captured')) {
            const again = evolveLink(next, e)
            if (again.status !== next.status || amountsOf(again) !== amountsOf(next) || again.refundIds.length !== next.refundIds.length || again.captureIds.length !== next.captureIds.length) throw new Error(`${e.type} twice is not once for ${told()}`)
          }
          s = next
        }
      }
      compared++
      if (expected !== undefined) requestedLinks++
    }
  }), { numRuns: 80 })
  t.ok(compared > 80, `${compared} links compared`)
  t.ok(requestedLinks > 40, `${requestedLinks} of them requested`)
})
