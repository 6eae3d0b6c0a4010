import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { gzipSync } from 'node:zlib'
import { onTeardown, startSandbox as startSandboxProcess, type SandboxProcess, type TestContext } from '@paylinks/test-kit'
import { createDojoClient, isDojoError, type DojoClient, type DojoClientOptions, type DojoError } from '../src/index.js'

/** A fresh sandbox key: each key is its own merchant account in the emulator. */
export function sandboxKey (): string {
  return `sk_sandbox_${randomBytes(12).toString('base64url')}`
}

export type Sandbox = SandboxProcess

/** The dojo-sandbox service as a child process on a free port, with quick webhook retries; killed at teardown. */
export async function startSandbox (t: TestContext): Promise<Sandbox> {
  return await startSandboxProcess(t, { WEBHOOK_RETRY_DELAYS_MS: '50,100' })
}

/** A client for a new sandbox account, with test defaults (short delays); closed at teardown. */
export function sandboxClient (t: TestContext, sandbox: Sandbox, options: Partial<DojoClientOptions> = {}): DojoClient {
  const client = createDojoClient({ baseUrl: sandbox.url, secretKey: sandboxKey(), timeoutMs: 5000, retries: 2, retryDelayMs: 10, ...options })
  onTeardown(t, () => client.close())
  return client
}

export interface Recorded {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

/**
 * What the scripted server does with one request: answer (`gzip` compresses the body whatever
 * was asked for), never answer (`hang`), send a 200 whose body never ends (`trickle`: a space
 * every 20 ms), or drop the connection without answering (`destroy`).
 */
export type Step = { status: number, body?: unknown, headers?: Record<string, string>, gzip?: boolean } | 'hang' | 'trickle' | 'destroy'

export interface ScriptedServer {
  url: string
  requests: Recorded[]
  /** Requests received for a path (path and query, e.g. `/payment-intents/pi_1`). */
  count: (method: string, url: string) => number
}

/**
 * A local HTTP server that plays `script(request, n)` where n counts earlier requests with the
 * same method and URL; open connections are destroyed at teardown.
 */
export async function startScriptedServer (t: TestContext, script: (request: Recorded, n: number) => Step): Promise<ScriptedServer> {
  const requests: Recorded[] = []
  const hanging = new Set<ServerResponse>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }
      const n = requests.filter((r) => r.method === recorded.method && r.url === recorded.url).length
      requests.push(recorded)
      const step = script(recorded, n)
      if (step === 'hang') { hanging.add(res); return }
      if (step === 'destroy') { req.socket.destroy(); return }
      if (step === 'trickle') {
        hanging.add(res)
        res.writeHead(200, { 'content-type': 'application/json' })
        const timer = setInterval(() => res.write(' '), 20)
        res.on('close', () => clearInterval(timer))
        return
      }
      const text = step.body === undefined ? '' : JSON.stringify(step.body)
      res.writeHead(step.status, {
        ...(step.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(step.gzip === true ? { 'content-encoding': 'gzip' } : {}),
        ...step.headers
      })
      res.end(step.gzip === true ? gzipSync(text) : text)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTeardown(t, async () => {
    for (const res of hanging) res.destroy()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count: (method, url) => requests.filter((r) => r.method === method && r.url === url).length
  }
}

export interface CountingProxy {
  /** `http://127.0.0.1:port`, or `https://localhost:port` when it terminates TLS. */
  url: string
  /** Connections accepted so far, and those still open. */
  accepted: () => number
  open: () => number
  /** Resolves once no client connection is open (rejects after `timeoutMs`). */
  drained: (timeoutMs: number) => Promise<void>
}

/**
 * A TCP proxy in front of `target` (an http://host:port URL) that counts connections; with
 * `tls` it terminates TLS with that certificate. Closed at teardown.
 */
export async function startProxy (t: TestContext, target: string, tls?: { cert: string, key: string }): Promise<CountingProxy> {
  const { hostname, port } = new URL(target)
  const clients = new Set<Socket>()
  const upstreams = new Set<Socket>()
  let accepted = 0
  const onSocket = (client: Socket): void => {
    accepted++
    clients.add(client)
    const upstream = connect(Number(port), hostname)
    upstreams.add(upstream)
    client.pipe(upstream).pipe(client)
    const end = (): void => { client.destroy(); upstream.destroy() }
    client.on('error', end)
    upstream.on('error', end)
    client.on('close', () => { clients.delete(client); end() })
    upstream.on('close', () => { upstreams.delete(upstream); end() })
  }
  const server: Server = tls === undefined ? createTcpServer(onSocket) : createTlsServer(tls, onSocket)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTeardown(t, async () => {
    for (const socket of [...clients, ...upstreams]) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const address = server.address()
  const listening = typeof address === 'object' && address !== null ? address.port : 0
  const open = (): number => clients.size
  return {
    url: tls === undefined ? `http://127.0.0.1:${listening}` : `https://localhost:${listening}`,
    accepted: () => accepted,
    open,
    drained: async (timeoutMs) => {
      const until = Date.now() + timeoutMs
      while (open() > 0) {
        if (Date.now() > until) throw new Error(`${open()} connections still open after ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
  }
}

/** A minimal intent body as Dojo returns it. */
export function intentBody (id: string, status = 'Created', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, status, amount: { value: 1000, currencyCode: 'GBP' }, createdAt: new Date().toISOString(), reference: 'order-1', somethingDojoAddedLater: { x: 1 }, ...extra }
}

/** The DojoError a call rejects with (fails the test if it resolves or throws something else). */
export async function rejection (promise: Promise<unknown>): Promise<DojoError> {
  try {
    await promise
  } catch (error) {
    if (isDojoError(error)) return error
    throw error
  }
  throw new Error('expected a rejection')
}
