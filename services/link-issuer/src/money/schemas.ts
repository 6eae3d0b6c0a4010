import { Type, type Static } from '@sinclair/typebox'
import { LinkIdSchema, MoneySchema } from '@paylinks/contracts'

const minor = (description: string) => Type.Integer({ minimum: 1, maximum: 99_999_999_999, description })

export const RefundBodySchema = Type.Union([
  Type.Object({
    amount: Type.Optional(minor('Minor units to refund (1050 is 10.50); default: everything still refundable.')),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Sent to Dojo as the refund reason.' }))
  }, { additionalProperties: false }),
  Type.Null()
], { title: 'RefundRequest' })
export type RefundBody = Static<typeof RefundBodySchema>

export const CaptureBodySchema = Type.Union([
  Type.Object({
    amount: Type.Optional(minor('Minor units to capture; default: everything not yet captured. Several partial captures may add up to the amount.'))
  }, { additionalProperties: false }),
  Type.Null()
], { title: 'CaptureRequest' })
export type CaptureBody = Static<typeof CaptureBodySchema>

export const MoneyHeadersSchema = Type.Object({
  'idempotency-key': Type.String({ minLength: 1, maxLength: 255, description: 'Required: a retry with the same key and body refunds (or captures) once and answers the same.' })
})
export const ReleaseHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 }))
})

const LinkMoneySchema = Type.Object({
  id: LinkIdSchema,
  status: Type.String({ description: 'The link\'s status after it' }),
  amount: MoneySchema,
  capturedAmount: Type.Integer({ description: 'minor units captured in all' }),
  refundedAmount: Type.Integer({ description: 'minor units refunded in all' })
})

export const RefundResultSchema = Type.Object({
  refundId: Type.String({ description: 'Dojo\'s refund id (rfnd_…)' }),
  amount: MoneySchema,
  link: LinkMoneySchema
}, { title: 'Refund' })

export const CaptureResultSchema = Type.Object({
  captureId: Type.String({ description: 'Dojo\'s capture id (cp_…)' }),
  amount: MoneySchema,
  link: LinkMoneySchema
}, { title: 'Capture' })

export const ReleaseResultSchema = Type.Object({
  reversalId: Type.Union([Type.String(), Type.Null()], { description: 'Dojo\'s reversal id (rvs_…); null when Dojo had reversed it already' }),
  link: LinkMoneySchema
}, { title: 'Release' })
