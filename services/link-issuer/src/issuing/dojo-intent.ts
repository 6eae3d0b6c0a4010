import { setTimeout as sleep } from 'node:timers/promises'
import { isDojoError, isDojoRefusal, type DojoClient, type PaymentIntent } from '@paylinks/dojo-client'
import { LinkErrorCodes, linkError } from '../errors.js'
import { dojoReferenceFor, metadataView, type IssuerLinkState } from '../link.js'
import { personalOf } from './email.js'

/** The link's request as recorded (its Manual capture options live there). */
function requestedOf (state: IssuerLinkState): { autoExpireAction?: 'Release' | 'Capture', autoExpireIn?: string } {
  return (state.events.find((e) => e.type === 'payment-link.requested')?.data ?? {}) as { autoExpireAction?: 'Release' | 'Capture', autoExpireIn?: string }
}

/** What Dojo made of a create: the intent (new or found), or a definite refusal. */
export type IntentOutcome = { intent: PaymentIntent } | { refused: { reason: string, code: string } }

/**
 * The oldest intent Dojo holds for the link's reference, if any; never one canceled (a second
 * intent a fenced holder canceled, see `drive` in issuer.ts).
 */
export async function findIntent (client: DojoClient, state: IssuerLinkState): Promise<PaymentIntent | undefined> {
  const found = await client.findPaymentIntentsByReference(dojoReferenceFor(state.reference, state.linkId), {
    createdFrom: new Date(new Date(state.createdAt).getTime() - 5 * 60_000)
  })
  return found.filter((i) => i.status !== 'Canceled').sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0]
}

/**
 * Create the link's intent, never twice: when an attempt's outcome is unknown (timeout, 5xx,
 * reset), look it up by its reference before trying again; `lookFirst` when an earlier holder
 * may have created it. After the bounded attempts, LINK_DOJO_UNAVAILABLE (the link stays requested).
 */
export async function createIntentOnce (
  client: DojoClient,
  state: IssuerLinkState,
  options: { lookFirst: boolean, publicUrl: string, log: { warn: (obj: object, msg: string) => void } }
): Promise<IntentOutcome> {
  // A look-up Dojo does not answer leaves the create's outcome unknown: never create again
  // then; the link stays requested and its next holder looks first.
  const lookUp = async (): Promise<PaymentIntent | undefined> => await findIntent(client, state).catch((error: unknown) => {
    if (!isDojoError(error) || isDojoRefusal(error)) throw error
    throw linkError(LinkErrorCodes.dojoUnavailable, 503, 'Dojo did not answer; the link stays requested and is resumed on retry (same Idempotency-Key) or by the recovery sweep.', { linkId: state.linkId }, error)
  })
  if (options.lookFirst) {
    const intent = await lookUp()
    if (intent !== undefined) return { intent }
  }
  // The customer's contact details go to Dojo only while its key exists.
  const personal = personalOf(state)
  const request = {
    amount: state.amount,
    reference: dojoReferenceFor(state.reference, state.linkId),
    ...(state.description === undefined ? {} : { description: state.description }),
    ...(personal?.email === undefined && personal?.phone === undefined
      ? {}
      : { customer: { ...(personal.email === undefined ? {} : { emailAddress: personal.email }), ...(personal.phone === undefined ? {} : { phoneNumber: personal.phone }) } }),
    expireAt: state.expiresAt,
    config: {
      redirectUrl: `${options.publicUrl}/links/${state.linkId}/result`,
      ...(state.description === undefined ? {} : { title: state.description.slice(0, 100) })
    },
    metadata: { ...metadataView(state), paylinksLinkId: state.linkId },
    paymentSource: 'payment-links',
    // Dojo requires autoExpireAction for Manual capture; autoExpireIn is optional (7 days then).
    ...(state.captureMode !== 'Manual'
      ? {}
      : { captureMode: 'Manual' as const, autoExpireAction: requestedOf(state).autoExpireAction ?? 'Release', ...(requestedOf(state).autoExpireIn === undefined ? {} : { autoExpireIn: requestedOf(state).autoExpireIn }) })
  }
  const attempts = 3
  for (let attempt = 1; ; attempt++) {
    try {
      return { intent: await client.createPaymentIntent(request) }
    } catch (error) {
      if (isDojoRefusal(error)) {
        return { refused: { reason: `Dojo refused the payment intent: ${error.message}`.slice(0, 2000), code: error.code } }
      }
      options.log.warn({ err: error, linkId: state.linkId, attempt }, 'Dojo create failed; looking the intent up by reference')
      const intent = await lookUp()
      if (intent !== undefined) return { intent }
      if (attempt >= attempts) throw linkError(LinkErrorCodes.dojoUnavailable, 503, 'Dojo did not answer; the link stays requested and is resumed on retry (same Idempotency-Key) or by the recovery sweep.', { linkId: state.linkId }, error)
      await sleep(100 * 2 ** attempt * (1 + Math.random()))
    }
  }
}
