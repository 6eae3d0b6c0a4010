import { Type, type Static } from '@sinclair/typebox'

/** The environment a process needs to read merchants' sealed secrets. */
export const SecretsConfigSchema = Type.Object({
  SECRETS_ENCRYPTION_KEYS: Type.String({
    minLength: 40,
    description: 'comma-separated base64 32-byte keys (openssl rand -base64 32); the first encrypts, all decrypt'
  })
})
export type SecretsConfig = Static<typeof SecretsConfigSchema>

/** The keys from that configuration. */
export const encryptionKeys = (config: SecretsConfig): string[] => config.SECRETS_ENCRYPTION_KEYS.split(',').map((k) => k.trim()).filter((k) => k !== '')
