import type { ColumnType, Generated } from 'kysely'

export interface MerchantsTable {
  id: string
  name: string
  dojo_base_url: string
  dojo_environment: 'sandbox' | 'production'
  dojo_secret_key_enc: string
  dojo_secret_key_last4: string
  default_redirect_url: string | null
  link_expiry_hours: Generated<number>
  allow_renewal: Generated<boolean>
  created_at: Generated<Date>
  updated_at: Generated<Date>
}

export interface ApiKeysTable {
  id: string
  merchant_id: string | null
  scope: 'merchant' | 'analyst'
  secret_hash: Buffer
  label: Generated<string>
  created_at: Generated<Date>
  last_used_at: ColumnType<Date | null, never, Date>
  revoked_at: ColumnType<Date | null, never, Date>
}

export interface NatsCredentialsTable {
  nats_user: string
  merchant_id: string
  password_hash: string
  label: Generated<string>
  created_at: Generated<Date>
  revoked_at: ColumnType<Date | null, never, Date>
}

/** A customer's data key (crypto-shredding): sealed with the secret box; NULL once erased. */
export interface PiiKeysTable {
  subject_id: string
  merchant_id: string
  lookup: string | null
  sealed_key: string | null
  created_at: Generated<Date>
  erased_at: Date | null
}

export interface MerchantTables {
  merchants: MerchantsTable
  api_keys: ApiKeysTable
  nats_credentials: NatsCredentialsTable
  pii_keys: PiiKeysTable
}
