import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { loadConfig } from '@paylinks/service-kit'
import { serverOptions } from '@paylinks/service-kit'
import type { TestContext } from '@paylinks/test-kit'
import { app } from '../src/app.js'
import { SandboxConfigSchema, sandboxOptions, type SandboxOptions } from '../src/config.js'

export const KEY = 'sk_sandbox_test_key_1'
export const OTHER_KEY = 'sk_sandbox_other_key_2'
export const VERSION = '2026-02-27'

// Short retry delays so retry tests finish in milliseconds.
const config = loadConfig(SandboxConfigSchema, { LOG_LEVEL: 'silent', WEBHOOK_RETRY_DELAYS_MS: '20,40,80', WEBHOOK_TIMEOUT_MS: '500' })

/** The sandbox app for `inject`, with test defaults; closed at teardown. */
export async function buildApp (t: TestContext, overrides: Partial<SandboxOptions> = {}): Promise<FastifyInstance> {
  const server = Fastify(serverOptions(config, { pretty: false }))
  await server.register(app, { ...sandboxOptions(config), ...overrides })
  t.teardown(() => server.close())
  await server.ready()
  return server
}

/** The sandbox listening on 127.0.0.1, port 0, with PUBLIC_URL set to where it listens. */
export async function startSandbox (t: TestContext, overrides: Partial<SandboxOptions> = {}): Promise<{ app: FastifyInstance, url: string }> {
  const server = await buildApp(t, overrides)
  await server.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`
  server.sandbox.options.publicUrl = url
  return { app: server, url }
}

export function headers (key = KEY, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Basic ${key}`, version: VERSION, ...extra }
}

export interface Received { body: string, json: any, headers: IncomingHttpHeaders, at: number }

/**
 * A real HTTP receiver on 127.0.0.1 port 0. `respond` picks the status of each request
 * (its 0-based index); returning 'hang' never answers, to trigger the sender's timeout.
 */
export async function startReceiver (t: TestContext, respond: (index: number) => number | 'hang' = () => 200): Promise<{ url: string, received: Received[], waitFor: (n: number) => Promise<Received[]> }> {
  const received: Received[] = []
  let waiters: Array<() => void> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      const index = received.length
      received.push({ body, json: JSON.parse(body), headers: req.headers, at: Date.now() })
      for (const w of waiters) w()
      const status = respond(index)
      if (status === 'hang') return
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const waitFor = async (n: number): Promise<Received[]> => {
    while (received.length < n) await new Promise<void>((resolve) => { waiters.push(resolve) })
    waiters = []
    return received
  }
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, waitFor }
}

/** Create an intent through the API and return its JSON. */
export async function createIntent (server: FastifyInstance, body: Record<string, unknown> = {}, key = KEY): Promise<any> {
  const res = await server.inject({ method: 'POST', url: '/payment-intents', headers: headers(key), payload: { amount: { value: 1050, currencyCode: 'GBP' }, reference: 'Order 1', ...body } })
  if (res.statusCode !== 200) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

export const CARDS = {
  success: { cardNumber: '5200 0000 0000 1005', expiry: '12/29', cvv: '020', cardName: 'Test Person' },
  challenge: { cardNumber: '5200 0000 0000 1096', expiry: '12/29', cvv: '020', cardName: 'Test Person' },
  declined: { cardNumber: '4456 5300 0000 1013', expiry: '12/29', cvv: '341', cardName: 'Test Person' }
}

/** Pay through the sandbox control, as a load test would. */
export async function pay (server: FastifyInstance, id: string, card: Record<string, string>): Promise<any> {
  const res = await server.inject({ method: 'POST', url: `/sandbox/payment-intents/${id}/pay`, payload: card })
  if (res.statusCode !== 200) throw new Error(`pay failed: ${res.statusCode} ${res.body}`)
  return res.json()
}
