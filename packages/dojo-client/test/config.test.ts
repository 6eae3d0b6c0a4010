import t from 'tap'
import { createDojoClient, DojoErrorCodes, isDojoError, type DojoClientOptions } from '../src/index.js'

function refusal (options: DojoClientOptions): { code: string, message: string } {
  try {
    createDojoClient(options)
  } catch (error) {
    if (isDojoError(error)) return { code: error.code, message: error.message }
    throw error
  }
  throw new Error('expected the options to be refused')
}

t.test('createDojoClient should derive the environment from the key prefix', async (t) => {
  const prod = createDojoClient({ baseUrl: 'https://api.dojo.tech/', secretKey: 'sk_prod_abc' })
  t.equal(prod.environment, 'production')
  t.equal(prod.baseUrl, 'https://api.dojo.tech')
  await prod.close()
  const sandboxAtDojo = createDojoClient({ baseUrl: 'https://api.dojo.tech', secretKey: 'sk_sandbox_abc' })
  t.equal(sandboxAtDojo.environment, 'sandbox', 'Dojo serves both environments on one URL')
  await sandboxAtDojo.close()
  const emulator = createDojoClient({ baseUrl: 'http://127.0.0.1:4010', secretKey: 'sk_sandbox_abc' })
  t.equal(emulator.environment, 'sandbox')
  await emulator.close()
})

t.test('createDojoClient should refuse a production key anywhere but api.dojo.tech', async (t) => {
  for (const baseUrl of ['http://127.0.0.1:4010', 'https://dojo-sandbox.internal', 'http://api.dojo.tech', 'https://api.dojo.tech.evil.example', 'https://api.dojo.tech/v2']) {
    const error = refusal({ baseUrl, secretKey: 'sk_prod_fake-secret' })
    t.equal(error.code, DojoErrorCodes.config, baseUrl)
    t.match(error.message, /production key/)
    t.notOk(error.message.includes('fake-secret'), 'the key is not in the message')
  }
})

t.test('createDojoClient should refuse a key of neither environment and bad options', async (t) => {
  const noPrefix = refusal({ baseUrl: 'https://api.dojo.tech', secretKey: 'pk_sandbox_supersecret' })
  t.equal(noPrefix.code, DojoErrorCodes.config)
  t.match(noPrefix.message, /sk_sandbox_ or sk_prod_/)
  t.notOk(noPrefix.message.includes('supersecret'))
  t.equal(refusal({ baseUrl: 'not a url', secretKey: 'sk_sandbox_x' }).code, DojoErrorCodes.config)
  t.equal(refusal({ baseUrl: 'ftp://127.0.0.1', secretKey: 'sk_sandbox_x' }).code, DojoErrorCodes.config)
  t.equal(refusal({ baseUrl: 'https://api.dojo.tech?x=1', secretKey: 'sk_sandbox_x' }).code, DojoErrorCodes.config)
  const many = refusal({ baseUrl: 'https://api.dojo.tech', secretKey: 'sk_sandbox_x', timeoutMs: 0, retries: -1, apiVersion: 'latest' })
  t.match(many.message, /timeoutMs/)
  t.match(many.message, /retries/)
  t.match(many.message, /apiVersion/)
  t.equal(refusal({ baseUrl: 'https://api.dojo.tech', secretKey: 'sk_sandbox_x', fetch: 'nope' as unknown as typeof fetch }).code, DojoErrorCodes.config)
})
