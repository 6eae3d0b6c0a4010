import { Type, type Static } from '@sinclair/typebox'

export const RoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('staff'), Type.Literal('viewer')])

export const SessionUserSchema = Type.Object({ id: Type.String(), email: Type.String(), name: Type.String(), role: RoleSchema })
export const SessionBodySchema = Type.Object({
  user: Type.Union([SessionUserSchema, Type.Null()]),
  merchant: Type.Union([Type.Object({ id: Type.String(), tradingName: Type.String() }), Type.Null()]),
  csrfToken: Type.String({ description: 'Send it as `x-csrf-token` on every POST, PUT, PATCH and DELETE.' })
}, { title: 'Session' })
export type SessionBody = Static<typeof SessionBodySchema>

// Form fields are optional strings in the schema: the handler checks them and answers every
// field's problem at once, in words a person reads beside the field.
const field = (maxLength = 1000) => Type.Optional(Type.String({ maxLength }))

export const SignInSchema = Type.Object({ email: field(320), password: field() })
export const EmailFormSchema = Type.Object({ email: field(320) })
export const PasswordFormSchema = Type.Object({ password: field() })
export const AcceptInviteSchema = Type.Object({ name: field(200), password: field() })
export const InviteFormSchema = Type.Object({ email: field(320), role: field(20) })
export const RoleFormSchema = Type.Object({ role: field(20) })
export const TokenParamsSchema = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) })
export const IdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) })

export const InviteSchema = Type.Object({ id: Type.String(), email: Type.String(), role: RoleSchema, expiresAt: Type.String({ format: 'date-time' }) }, { title: 'Invite' })
export const StaffUserSchema = Type.Object({ id: Type.String(), email: Type.String(), name: Type.String(), role: RoleSchema, createdAt: Type.String({ format: 'date-time' }) }, { title: 'StaffUser' })
export const StaffSchema = Type.Object({ users: Type.Array(StaffUserSchema), invites: Type.Array(InviteSchema) })
export const InviteViewSchema = Type.Object({ email: Type.String(), name: Type.Optional(Type.String({ description: 'as the inviter gave it, to prefill the form' })), role: RoleSchema, merchant: Type.Object({ tradingName: Type.String() }) })
