import { Type, type Static } from '@sinclair/typebox'
import { ServerConfigSchema } from '@paylinks/service-kit'

/** Everything the sandbox reads from the environment, through service-kit's `loadConfig`. */
export const SandboxConfigSchema = Type.Object({
  ...ServerConfigSchema.properties,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 4010 }),
  PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:4010', description: 'Base URL of the checkout page in paymentLink.' }),
  MERCHANT_NAME: Type.String({ default: 'Sandbox Merchant', description: 'Trading name shown on the checkout page.' }),
  WEBHOOK_RETRY_DELAYS_MS: Type.String({ default: '1000,5000,30000', pattern: '^\\d+(,\\d+)*$', description: 'Delay before each retry of a failed delivery, comma-separated.' }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5000, description: 'Timeout of one delivery attempt.' }),
  INTENT_EXPIRY_DAYS: Type.Number({ minimum: 0, default: 30, description: 'Default expireAt after creation.' }),
  EXPIRY_SWEEP_MS: Type.Integer({ minimum: 10, default: 1000, description: 'How often expired intents are voided.' }),
  LEGACY_TEST_EXPIRY: Type.String({ default: '12/24', description: 'Past expiry accepted for test cards (older docs); empty disables.' }),
  SANDBOX_STATE_DIR: Type.String({ default: '', description: 'Directory the sandbox keeps its state in (state.jsonl), so a restart loses nothing; empty: in memory only.' })
})
export type SandboxConfig = Static<typeof SandboxConfigSchema>

/** The options the app plugin needs: parsed from config, or given directly by tests. */
export interface SandboxOptions {
  publicUrl: string
  merchantName: string
  retryDelaysMs: number[]
  webhookTimeoutMs: number
  intentExpiryMs: number
  expirySweepMs: number
  legacyTestExpiry: string
  /** Where the state is kept across restarts; undefined or empty: in memory only. */
  stateDir?: string
}

/** Turn the flat config into the app's options. */
export function sandboxOptions (config: SandboxConfig): SandboxOptions {
  return {
    publicUrl: config.PUBLIC_URL.replace(/\/+$/, ''),
    merchantName: config.MERCHANT_NAME,
    retryDelaysMs: config.WEBHOOK_RETRY_DELAYS_MS.split(',').map(Number),
    webhookTimeoutMs: config.WEBHOOK_TIMEOUT_MS,
    intentExpiryMs: config.INTENT_EXPIRY_DAYS * 86_400_000,
    expirySweepMs: config.EXPIRY_SWEEP_MS,
    legacyTestExpiry: config.LEGACY_TEST_EXPIRY,
    stateDir: config.SANDBOX_STATE_DIR
  }
}
