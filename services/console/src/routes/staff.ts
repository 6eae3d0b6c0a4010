import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { problemResponses, ServiceError } from '@paylinks/service-kit'
import { changeStaff, createInvite, emailTaken, listInvites, listUsers, revokeInvite } from '../accounts.js'
import { merchantName, type ConsoleContext } from '../context.js'
import { ConsoleErrorCodes } from '../errors.js'
import { Form } from '../forms.js'
import { IdParamsSchema, InviteFormSchema, InviteSchema, RoleFormSchema, StaffSchema, StaffUserSchema } from '../schemas.js'
import { requireRole } from '../session.js'
import { deliver } from './session.js'

const tags = ['staff']
const security = [{ session: [] }]
const errors = problemResponses(401, 403, 404)

/** The owner's staff page: users and invites of the signed-in merchant. */
export default async function staffRoutes (fastify: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, config } = ctx
  app.addHook('preHandler', requireRole(db, 'owner'))
  const view = ({ id, email, name, role, createdAt }: { id: string, email: string, name: string, role: 'owner' | 'staff' | 'viewer', createdAt: string }) => ({ id, email, name, role, createdAt })
  const invitesView = (i: { id: string, email: string, role: 'owner' | 'staff' | 'viewer', expiresAt: string }) => ({ id: i.id, email: i.email, role: i.role, expiresAt: i.expiresAt })

  app.get('/staff', { schema: { tags, security, operationId: 'listStaff', summary: 'The merchant\'s staff and open invites', response: { 200: StaffSchema, ...errors } } }, async (request) => {
    const merchantId = request.user!.merchantId
    return { users: (await listUsers(db, merchantId)).map(view), invites: (await listInvites(db, merchantId)).map(invitesView) }
  })

  app.post('/staff/invites', {
    schema: { tags, security, operationId: 'inviteStaff', summary: 'Invite someone by e-mail with a role', body: InviteFormSchema, response: { 201: InviteSchema, ...problemResponses(401, 403, 409, 503) } }
  }, async (request, reply) => {
    const form = new Form()
    const email = form.email('email', request.body.email)
    const role = form.role('role', request.body.role)
    form.done()
    if (await emailTaken(db, email)) throw new ServiceError(ConsoleErrorCodes.conflict, 409, `${email} already has an account.`, { extra: { errors: [{ path: '/body/email', field: 'email', message: 'This e-mail address already has an account.' }] } })
    const merchantId = request.user!.merchantId
    const invite = await createInvite(db, { merchantId, email, role, ttlMs: config.INVITE_TTL_HOURS * 3_600_000 })
    const url = `${ctx.publicUrl}/console/invite/${invite.token}`
    const name = await merchantName(db, merchantId)
    await deliver(ctx, 'invite', async (mailer) => { await mailer.sendInvite({ to: email, merchantName: name, role, url, expiresAt: invite.expiresAt }) })
    request.log.info({ inviteId: invite.id, role, by: request.user!.id }, 'staff invited')
    return await reply.code(201).send({ id: invite.id, email, role, expiresAt: invite.expiresAt })
  })

  app.delete('/staff/invites/:id', {
    schema: { tags, security, operationId: 'revokeInvite', summary: 'Withdraw an open invite', params: IdParamsSchema, response: { 204: Type.Null(), ...errors } }
  }, async (request, reply) => {
    if (!await revokeInvite(db, request.user!.merchantId, request.params.id)) throw new ServiceError(ConsoleErrorCodes.notFound, 404, 'No open invite with this id.')
    return await reply.code(204).send(null)
  })

  const change = async (merchantId: string, userId: string, role: 'owner' | 'staff' | 'viewer' | undefined) => {
    const result = await changeStaff(db, merchantId, userId, role)
    if (!result.ok && result.reason === 'not-found') throw new ServiceError(ConsoleErrorCodes.notFound, 404, 'No such member of staff.')
    if (!result.ok) throw new ServiceError(ConsoleErrorCodes.conflict, 409, 'The console needs at least one owner: make someone else owner first.')
    return result
  }

  app.patch('/staff/:id', {
    schema: { tags, security, operationId: 'changeStaffRole', summary: 'Change a member\'s role', params: IdParamsSchema, body: RoleFormSchema, response: { 200: StaffUserSchema, ...problemResponses(401, 403, 404, 409) } }
  }, async (request) => {
    const form = new Form()
    const role = form.role('role', request.body.role)
    form.done()
    return view((await change(request.user!.merchantId, request.params.id, role)).user!)
  })

  app.delete('/staff/:id', {
    schema: { tags, security, operationId: 'removeStaff', summary: 'Remove a member: their sessions end at once', params: IdParamsSchema, response: { 204: Type.Null(), ...problemResponses(401, 403, 404, 409) } }
  }, async (request, reply) => {
    await change(request.user!.merchantId, request.params.id, undefined)
    return await reply.code(204).send(null)
  })
}
