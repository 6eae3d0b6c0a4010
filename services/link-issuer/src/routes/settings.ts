import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { problemResponses as problems } from '@paylinks/service-kit'
import { LinkErrorCodes, linkError } from '../errors.js'
import { getReminderPolicy, setReminderPolicy } from '../repositories/reminders.js'
import { ReminderPolicySchema, type ReminderPolicy } from '../schemas.js'
import type { Db } from '../tables.js'

export interface SettingsRoutesOptions {
  db: Db
  /** The shortest interval a merchant may set (REMINDER_MIN_INTERVAL_S). */
  minIntervalSeconds: number
  emailAvailable: boolean
}

/** The floor the schema cannot know (it is configuration): a 422 naming the field. */
export function checkReminderPolicy (policy: ReminderPolicy, minIntervalSeconds: number): string | undefined {
  for (const field of ['firstAfterSeconds', 'everySeconds'] as const) {
    if (policy[field] < minIntervalSeconds) return `${field} must be at least ${minIntervalSeconds} seconds.`
  }
  return undefined
}

/** The merchant's settings in the partner API (registered inside its guard): its reminder policy. */
export default async function settingsRoutes (fastify: FastifyInstance, options: SettingsRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  app.get('/settings/reminders', {
    schema: {
      operationId: 'getReminderPolicy',
      tags: ['settings'],
      summary: 'Your reminder e-mails for unpaid links (off until you turn them on)',
      response: { 200: ReminderPolicySchema, ...problems(403) }
    }
  }, async (request) => await getReminderPolicy(options.db, (await request.merchant()).id))

  app.put('/settings/reminders', {
    schema: {
      operationId: 'setReminderPolicy',
      tags: ['settings'],
      summary: 'Turn reminder e-mails for unpaid links on or off, and set when and how many',
      description: 'Applies to every unpaid e-mailed link from the next sweep on, links created earlier included: a reminder is due under the policy in force when it falls due.',
      body: ReminderPolicySchema,
      response: { 200: ReminderPolicySchema, ...problems(400, 403, 422) }
    }
  }, async (request) => {
    const merchant = await request.merchant()
    const refusal = checkReminderPolicy(request.body, options.minIntervalSeconds)
    if (refusal !== undefined) throw linkError(LinkErrorCodes.invalid, 422, refusal)
    if (request.body.enabled && !options.emailAvailable) throw linkError(LinkErrorCodes.emailUnavailable, 422, 'This service has no e-mail configured: reminders cannot be turned on.')
    const policy = await setReminderPolicy(options.db, merchant.id, request.body)
    request.log.info({ merchantId: merchant.id, policy }, 'reminder policy set')
    return policy
  })
}
