// The baseline: a bare Fastify endpoint that only parses JSON and answers.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.post('/webhooks/dojo/:merchantId', async (request) => ({ status: 'accepted', id: (request.body as { id?: string }).id }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
console.log('bare listening')
