import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { authenticateApiKey, type CustomerKeys } from '@paylinks/merchants'
import type { EventPublisher } from '@paylinks/messaging'
import { problemResponses } from '@paylinks/service-kit'
import { CustomerIdSchema } from '@paylinks/contracts'
import { eraseAndRecord } from '../customers.js'
import { LinkErrorCodes, linkError } from '../errors.js'
import { merchantDb, type Db } from '../tables.js'

export interface CustomerRoutesOptions {
  db: Db
  publisher: EventPublisher
  customers: CustomerKeys
}

const EraseBodySchema = Type.Union([
  Type.Object({ email: Type.String({ format: 'email', maxLength: 254 }) }, { additionalProperties: false }),
  Type.Object({ phone: Type.String({ minLength: 3, maxLength: 50 }) }, { additionalProperties: false }),
  Type.Object({ customerId: CustomerIdSchema }, { additionalProperties: false })
], { title: 'EraseCustomer', description: 'The customer: by e-mail, phone, or its id (`customer.id` of a link)' })

const ErasureSchema = Type.Object({
  customerIds: Type.Array(Type.String(), { description: 'the customers erased (one, or more when old links named the same e-mail)' }),
  links: Type.Integer({ description: 'how many of your links named them' }),
  erasedAt: Type.String({ format: 'date-time' })
}, { title: 'Erasure' })

/**
 * POST /v1/customers/erase: a merchant erases one of its customers (UK GDPR). The customer's
 * key is destroyed: its links keep their payment facts and show `customer: { id, erased: true }`.
 */
export default async function customerRoutes (fastify: FastifyInstance, options: CustomerRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  app.post('/customers/erase', {
    schema: {
      operationId: 'eraseCustomer',
      tags: ['customers'],
      // Authenticated by the handler itself, against the database on every call (no cached key).
      security: [{ apiKey: [] }],
      summary: 'Erase a customer\'s personal data from every link (the log keeps the payment facts)',
      body: EraseBodySchema,
      response: { 200: ErasureSchema, ...problemResponses(400, 401, 403, 404) }
    }
  }, async (request) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')
    // Rare and destructive: every call authenticates against the database (no cached key).
    const principal = match === null ? undefined : await authenticateApiKey(merchantDb(options.db), match[1]!)
    if (principal === undefined) throw linkError(LinkErrorCodes.unauthorized, 401, 'Send a valid API key as `Authorization: Bearer <key>`.')
    if (principal.scope !== 'merchant' || principal.merchantId === null) throw linkError(LinkErrorCodes.forbidden, 403, 'This needs a merchant API key.')
    const erasure = await eraseAndRecord({ db: merchantDb(options.db), publisher: options.publisher, customers: options.customers }, principal.merchantId, request.body, request.id)
    // Another merchant's customer is as unknown as a missing one.
    if (erasure === undefined) throw linkError(LinkErrorCodes.customerNotFound, 404, 'No customer of yours matches (or it was erased by e-mail already).')
    return { customerIds: erasure.customerIds, links: erasure.links, erasedAt: erasure.erasedAt.toISOString() }
  })
}
