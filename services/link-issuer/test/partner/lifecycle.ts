// A partner's program, written as a partner would: only the types generated from link-issuer's
// OpenAPI document (./link-issuer-api.generated.ts, by openapi-typescript) and openapi-fetch. tsc checks it
// against those types, so a change of the document that breaks partners breaks this file.
import createClient from 'openapi-fetch'
import type { components, paths } from './link-issuer-api.generated.js'

export type PaymentLink = paths['/v1/payment-links/{id}']['get']['responses'][200]['content']['application/json']
export type ListedLink = paths['/v1/payment-links']['get']['responses'][200]['content']['application/json']['data'][number]
export type Problem = components['schemas']['Problem']

export interface Lifecycle {
  created: PaymentLink
  got: PaymentLink
  listed: ListedLink[]
  canceled: PaymentLink
  events: string[]
  missing: Problem
}

/** Create a link, read it, find it in the list, cancel it (no body), read its timeline, and meet a 404. */
export async function lifecycle (baseUrl: string, apiKey: string, reference: string): Promise<Lifecycle> {
  const client = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${apiKey}` } })

  const created = await client.POST('/v1/payment-links', {
    params: { header: { 'idempotency-key': `create-${reference}` } },
    body: { reference, amount: { value: 1250, currencyCode: 'GBP' }, description: 'Two mugs' }
  })
  if (created.data === undefined) throw new Error(`create failed: ${created.response.status} ${JSON.stringify(created.error)}`)
  const id = created.data.id

  const got = await client.GET('/v1/payment-links/{id}', { params: { path: { id } } })
  if (got.data === undefined) throw new Error(`get failed: ${got.response.status}`)

  const listed = await client.GET('/v1/payment-links', { params: { query: { reference } } })
  if (listed.data === undefined) throw new Error(`list failed: ${listed.response.status}`)

  // The cancel body is optional: a partner with no reason sends none.
  const canceled = await client.POST('/v1/payment-links/{id}/cancel', { params: { path: { id } } })
  if (canceled.data === undefined) throw new Error(`cancel failed: ${canceled.response.status} ${JSON.stringify(canceled.error)}`)

  const events = await client.GET('/v1/payment-links/{id}/events', { params: { path: { id } } })
  if (events.data === undefined) throw new Error(`events failed: ${events.response.status}`)

  const missing = await client.GET('/v1/payment-links/{id}', { params: { path: { id: 'lnk_nosuchlinkatall' } } })
  if (missing.error === undefined) throw new Error('a missing link was found')

  return {
    created: created.data,
    got: got.data,
    listed: listed.data.data,
    canceled: canceled.data,
    events: events.data.data.map((e) => e.type),
    missing: missing.error
  }
}
