import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { onTeardown, type TestContext } from './context.js'

/** A span as the OTLP/JSON export carries it, with the service that sent it. */
export interface ReceivedSpan {
  service: string
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  kind: number
  attributes: Record<string, unknown>
  links: Array<{ traceId: string, spanId: string }>
}
/** OTLP's span kinds. */
export const OtlpSpanKind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const

/** OTLP/JSON ids are hex; protobuf-style JSON would send base64: accept both. */
function hexId (id: unknown): string {
  if (typeof id !== 'string' || id === '') return ''
  return /^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex')
}

function attributesOf (list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const a of (list as Array<{ key: string, value: Record<string, unknown> }> | undefined) ?? []) out[a.key] = Object.values(a.value)[0]
  return out
}

/**
 * An in-process OTLP/HTTP receiver (JSON, as our exporter sends): the spans a collector would
 * get, kept in memory, for tests that start services with OTEL_EXPORTER_OTLP_ENDPOINT = `url`.
 */
export async function startOtlpReceiver (t: TestContext): Promise<{ url: string, spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = []
  const read = async (req: IncomingMessage): Promise<string> => {
    let body = ''
    for await (const chunk of req) body += String(chunk)
    return body
  }
  const server = createServer((req, res) => {
    void read(req).then((body) => {
      if (req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(415).end()
        return
      }
      const payload = JSON.parse(body) as { resourceSpans?: Array<{ resource?: { attributes?: unknown }, scopeSpans?: Array<{ spans?: Array<Record<string, any>> }> }> }
      for (const rs of payload.resourceSpans ?? []) {
        const service = String(attributesOf(rs.resource?.attributes)['service.name'])
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              traceId: hexId(s.traceId),
              spanId: hexId(s.spanId),
              parentSpanId: hexId(s.parentSpanId),
              name: String(s.name),
              kind: Number(s.kind),
              attributes: attributesOf(s.attributes),
              links: ((s.links ?? []) as Array<Record<string, unknown>>).map((l) => ({ traceId: hexId(l.traceId), spanId: hexId(l.spanId) }))
            })
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTeardown(t, async () => { await new Promise((resolve) => server.close(resolve)) })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans }
}
