import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { MerchantError, MerchantErrorCodes } from './errors.js'

export interface SecretBox {
  /** `v1.<key id>.<iv>.<ciphertext+tag>`, base64url parts; a fresh IV every time. */
  encrypt: (plain: string) => string
  decrypt: (sealed: string) => string
}

/**
 * AES-256-GCM with keys from configuration. The first key encrypts; every key decrypts (each
 * sealed value names its key's id), so keys rotate by putting the new one first and re-sealing.
 * Keys are 32 random bytes, base64-encoded (`openssl rand -base64 32`).
 */
export function createSecretBox (keys: string[]): SecretBox {
  if (keys.length === 0) throw new MerchantError(MerchantErrorCodes.keyConfig, 'no encryption key configured')
  const parsed = keys.map((k, i) => {
    const key = Buffer.from(k.trim(), 'base64')
    if (key.length !== 32) throw new MerchantError(MerchantErrorCodes.keyConfig, `encryption key #${i + 1} is not 32 bytes of base64`)
    return { id: createHash('sha256').update(key).digest('base64url').slice(0, 8), key }
  })
  const byId = new Map(parsed.map((k) => [k.id, k.key]))
  const current = parsed[0]!
  return {
    encrypt (plain) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', current.key, iv)
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()])
      return ['v1', current.id, iv.toString('base64url'), body.toString('base64url')].join('.')
    },
    decrypt (sealed) {
      const [version, id, iv, body] = sealed.split('.')
      const key = id === undefined ? undefined : byId.get(id)
      if (version !== 'v1' || key === undefined || iv === undefined || body === undefined) {
        throw new MerchantError(MerchantErrorCodes.decrypt, `secret sealed with an unknown key (${id ?? 'none'}); is its key still configured?`)
      }
      try {
        const data = Buffer.from(body, 'base64url')
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
        decipher.setAuthTag(data.subarray(data.length - 16))
        return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8')
      } catch (error) {
        throw new MerchantError(MerchantErrorCodes.decrypt, 'secret failed authentication: tampered or wrong key', { cause: error })
      }
    }
  }
}
