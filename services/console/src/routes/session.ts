import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { problemResponses, ServiceError } from '@paylinks/service-kit'
import { acceptInvite, createReset, completeReset, findInvite, verifyLogin } from '../accounts.js'
import { merchantName, sessionBody, type ConsoleContext } from '../context.js'
import { ConsoleErrorCodes, tokenExpired } from '../errors.js'
import { Form } from '../forms.js'
import { AcceptInviteSchema, EmailFormSchema, InviteViewSchema, PasswordFormSchema, SessionBodySchema, SignInSchema, TokenParamsSchema } from '../schemas.js'

const tags = ['session']

/** Signing in and out, password resets and accepting invites: the routes open without a session. */
export default async function sessionRoutes (fastify: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, config } = ctx
  // Two limits on one route: per client address and per e-mail asked for (an attacker spread
  // over many addresses still gets a few guesses per account per window).
  const limits = [
    { what: 'from this address', check: app.createRateLimit({ max: config.LOGIN_MAX_PER_ADDRESS, timeWindow: config.LOGIN_WINDOW_MS, keyGenerator: (r) => `ip:${r.ip}` }) },
    {
      what: 'for this e-mail address',
      check: app.createRateLimit({
        max: config.LOGIN_MAX_PER_EMAIL,
        timeWindow: config.LOGIN_WINDOW_MS,
        keyGenerator: (r) => `email:${String((r.body as { email?: unknown } | undefined)?.email ?? '').trim().toLowerCase()}`
      })
    }
  ]
  const signInLimit = async (request: FastifyRequest): Promise<void> => {
    for (const { what, check } of limits) {
      const result = await check(request)
      if (!result.isAllowed && result.isExceeded) {
        const seconds = Math.max(1, result.ttlInSeconds)
        throw new ServiceError(ConsoleErrorCodes.limited, 429, `Too many sign-in attempts ${what}: try again in ${seconds} s.`, { retryAfterSeconds: seconds })
      }
    }
  }

  app.get('/session', {
    schema: { tags, operationId: 'getSession', summary: 'Who is signed in, and a CSRF token for this session', response: { 200: SessionBodySchema } }
  }, async (request, reply) => await sessionBody(db, request, reply))

  app.post('/session', {
    preHandler: signInLimit,
    schema: { tags, operationId: 'signIn', summary: 'Sign in with e-mail and password', body: SignInSchema, response: { 200: SessionBodySchema, ...problemResponses(401, 403, 429) } }
  }, async (request, reply) => {
    const form = new Form()
    const email = form.email('email', request.body.email)
    const password = form.required('password', request.body.password, 'Enter your password.')
    form.done()
    const user = await verifyLogin(db, email, password)
    if (user === undefined) throw new ServiceError(ConsoleErrorCodes.loginFailed, 401, 'The e-mail or password is wrong.')
    // A new session id at sign-in: an id planted before it (session fixation) signs no one in.
    await request.session.regenerate()
    request.session.userId = user.id
    request.log.info({ userId: user.id, merchantId: user.merchantId }, 'signed in')
    return await sessionBody(db, request, reply, user)
  })

  app.delete('/session', {
    schema: { tags, operationId: 'signOut', summary: 'Sign out', response: { 204: Type.Null(), ...problemResponses(403) } }
  }, async (request, reply) => {
    await request.session.destroy()
    reply.clearCookie('pl_console', { path: '/console' })
    return await reply.code(204).send(null)
  })

  app.post('/password-resets', {
    schema: { tags, operationId: 'askPasswordReset', summary: 'E-mail a password-reset link, if the account exists', body: EmailFormSchema, response: { 202: Type.Null(), ...problemResponses(403) } }
  }, async (request, reply) => {
    const form = new Form()
    const email = form.email('email', request.body.email)
    form.done()
    const reset = await createReset(db, email, config.RESET_TTL_MINUTES * 60_000)
    // Always 202: the answer does not tell whether an account has this address.
    if (reset !== undefined) {
      const url = `${ctx.publicUrl}/console/reset/${reset.token}`
      await deliver(ctx, 'password reset', async (mailer) => { await mailer.sendReset({ to: reset.user.email, url, expiresAt: reset.expiresAt }) })
    }
    return await reply.code(202).send(null)
  })

  app.post('/password-resets/:token', {
    schema: { tags, operationId: 'resetPassword', summary: 'Set a new password with a reset link; every session of the account ends', params: TokenParamsSchema, body: PasswordFormSchema, response: { 204: Type.Null(), ...problemResponses(403, 410) } }
  }, async (request, reply) => {
    const form = new Form()
    const password = form.password('password', request.body.password)
    form.done()
    const user = await completeReset(db, request.params.token, password)
    if (user === undefined) throw tokenExpired()
    request.log.info({ userId: user.id }, 'password reset; sessions ended')
    return await reply.code(204).send(null)
  })

  app.get('/invites/:token', {
    schema: { tags, operationId: 'getInvite', summary: 'What an invite is for', params: TokenParamsSchema, response: { 200: InviteViewSchema, ...problemResponses(410) } }
  }, async (request) => {
    const invite = await findInvite(db, request.params.token)
    if (invite === undefined) throw tokenExpired()
    return { email: invite.email, ...(invite.name === null ? {} : { name: invite.name }), role: invite.role, merchant: { tradingName: await merchantName(db, invite.merchantId) } }
  })

  app.post('/invites/:token', {
    schema: { tags, operationId: 'acceptInvite', summary: 'Accept an invite: choose a name and password, and be signed in', params: TokenParamsSchema, body: AcceptInviteSchema, response: { 200: SessionBodySchema, ...problemResponses(403, 409, 410) } }
  }, async (request, reply) => {
    const form = new Form()
    const name = form.required('name', request.body.name, 'Enter your name.')
    const password = form.password('password', request.body.password)
    form.done()
    const result = await acceptInvite(db, request.params.token, { name, password })
    if (!result.ok && result.reason === 'expired') throw tokenExpired()
    if (!result.ok) throw new ServiceError(ConsoleErrorCodes.conflict, 409, 'An account with this e-mail address exists already: sign in instead.')
    await request.session.regenerate()
    request.session.userId = result.user.id
    request.log.info({ userId: result.user.id, merchantId: result.user.merchantId, role: result.user.role }, 'invite accepted')
    return await sessionBody(db, request, reply, result.user)
  })
}

/** Send an e-mail if SMTP is configured; a failure is logged and answered as a 503. */
export async function deliver (ctx: ConsoleContext, what: string, send: (mailer: NonNullable<ConsoleContext['mailer']>) => Promise<void>): Promise<void> {
  if (ctx.mailer === undefined) {
    ctx.log.warn({ what }, 'e-mail not sent: SMTP_URL is not set')
    return
  }
  try {
    await send(ctx.mailer)
  } catch (error) {
    ctx.log.error({ err: error, what }, 'e-mail not sent')
    throw new ServiceError(ConsoleErrorCodes.upstream, 503, 'The e-mail could not be sent just now: try again in a moment.', { retryAfterSeconds: 5, cause: error })
  }
}
