import { Type, type Static } from '@sinclair/typebox'
import { CurrencyCodeSchema, LinkStatusSchema, MoneySchema } from '@paylinks/contracts'

const DateTime = Type.String({ format: 'date-time' })
const Day = Type.String({ format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD (UTC)' })
const Format = Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: 'csv also when Accept: text/csv' }))

export const PaymentSchema = Type.Object({
  linkId: Type.String(),
  merchantId: Type.String(),
  reference: Type.String(),
  orderId: Type.Union([Type.String(), Type.Null()]),
  status: LinkStatusSchema,
  amount: MoneySchema,
  captureMode: Type.Union([Type.Literal('Auto'), Type.Literal('Manual')]),
  capturedAmount: Type.Integer({ description: 'minor units captured (all of an Auto payment; Manual captures add up)' }),
  refundedAmount: Type.Integer({ description: 'minor units refunded' }),
  paymentIntentId: Type.Union([Type.String(), Type.Null()]),
  url: Type.Union([Type.String(), Type.Null()]),
  createdAt: DateTime,
  issuedAt: Type.Union([DateTime, Type.Null()]),
  openedAt: Type.Union([DateTime, Type.Null()], { description: 'when the customer first opened the link (its short URL)' }),
  openCount: Type.Integer({ minimum: 0, description: 'opens of the link recorded so far' }),
  paidAt: Type.Union([DateTime, Type.Null()]),
  updatedAt: DateTime
}, { title: 'Payment' })
export type Payment = Static<typeof PaymentSchema>

export const PaymentsQuerySchema = Type.Object({
  status: Type.Optional(LinkStatusSchema),
  merchantId: Type.Optional(Type.String({ description: 'analyst keys only; merchant keys read their own' })),
  reference: Type.Optional(Type.String({ maxLength: 60 })),
  createdFrom: Type.Optional(DateTime),
  createdTo: Type.Optional(DateTime),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  format: Format
}, { additionalProperties: false })

export const PaymentPageSchema = Type.Object({
  data: Type.Array(PaymentSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last' })
})

export const TimelineEntrySchema = Type.Object({
  position: Type.Integer(),
  type: Type.String(),
  occurredAt: DateTime,
  status: Type.Union([LinkStatusSchema, Type.Null()]),
  summary: Type.String()
})

export const RangeQuerySchema = Type.Object({
  from: Day,
  to: Day,
  merchantId: Type.Optional(Type.String()),
  currency: Type.Optional(CurrencyCodeSchema),
  format: Format
}, { additionalProperties: false })

export const DailyFigureSchema = Type.Object({
  day: Day,
  merchantId: Type.String(),
  currency: CurrencyCodeSchema,
  issued: Type.Integer(),
  paid: Type.Integer(),
  captured: Type.Integer({ description: 'Manual links captured (first capture)' }),
  canceled: Type.Integer(),
  expired: Type.Integer(),
  failed: Type.Integer(),
  released: Type.Integer({ description: 'links released (Dojo reversal)' }),
  refunded: Type.Integer({ description: 'links fully refunded' }),
  refunds: Type.Integer({ description: 'refunds recorded, partial and full' }),
  capturedAmount: Type.Integer({ description: 'minor units' }),
  refundedAmount: Type.Integer({ description: 'minor units' })
}, { title: 'DailyFigure' })

const TimeToPaySchema = Type.Object({
  median: Type.Union([Type.Number(), Type.Null()]),
  p90: Type.Union([Type.Number(), Type.Null()])
}, { description: 'seconds from issue to payment of the paid links, rounded to 0.1 s; from a bucketed distribution: within 1 % of the exact percentile_cont. Null when none was paid.' })

export const ConversionSchema = Type.Object({
  from: Day,
  to: Day,
  issued: Type.Integer({ description: 'links issued in the range' }),
  paid: Type.Integer({ description: 'of those, paid (by now)' }),
  conversionRate: Type.Union([Type.Number(), Type.Null()], { description: 'paid / issued; null when none issued' }),
  timeToPaySeconds: TimeToPaySchema,
  funnel: Type.Object({ requested: Type.Integer(), issued: Type.Integer(), sent: Type.Integer(), opened: Type.Integer({ description: 'links the customer opened (their short URL)' }), paid: Type.Integer() })
}, { title: 'Conversion' })

export const DashboardSchema = Type.Object({
  days: Type.Integer(),
  totals: Type.Object({
    issued: Type.Integer(),
    paid: Type.Integer(),
    conversionRate: Type.Union([Type.Number(), Type.Null()]),
    captured: Type.Array(Type.Object({ currency: Type.String(), amount: Type.Integer({ description: 'minor units' }) })),
    refunded: Type.Array(Type.Object({ currency: Type.String(), amount: Type.Integer({ description: 'minor units' }) }))
  }),
  daily: Type.Array(Type.Object({ day: Day, issued: Type.Integer(), paid: Type.Integer() })),
  funnel: Type.Object({ requested: Type.Integer(), issued: Type.Integer(), sent: Type.Integer(), opened: Type.Integer({ description: 'links the customer opened (their short URL)' }), paid: Type.Integer() }),
  timeToPaySeconds: TimeToPaySchema,
  latest: Type.Array(PaymentSchema),
  lag: Type.Array(Type.Object({
    name: Type.String(),
    generation: Type.Union([Type.Integer(), Type.Null()]),
    building: Type.Union([Type.Integer(), Type.Null()]),
    position: Type.Integer(),
    head: Type.Integer(),
    eventsBehind: Type.Integer(),
    secondsBehind: Type.Number()
  }))
}, { title: 'Dashboard' })
export type Dashboard = Static<typeof DashboardSchema>
