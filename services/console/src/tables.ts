import type { ColumnType, Generated, Kysely } from 'kysely'
import type { MerchantTables } from '@paylinks/merchants'

export type Role = 'owner' | 'staff' | 'viewer'

export interface UsersTable {
  id: string
  merchant_id: string
  email: string
  name: string
  role: Role
  password_hash: string
  created_at: Generated<Date>
  disabled_at: ColumnType<Date | null, never, Date>
}

export interface TokensTable {
  id: string
  kind: 'invite' | 'reset'
  token_hash: Buffer
  merchant_id: string
  email: string
  name: string | null
  role: Role | null
  user_id: string | null
  expires_at: Date
  used_at: ColumnType<Date | null, never, Date>
  created_at: Generated<Date>
}

export interface SessionsTable {
  sid_hash: Buffer
  user_id: string | null
  data: unknown
  expires_at: Date
}

export interface MerchantKeysTable {
  merchant_id: string
  key_id: string
  sealed_key: string
  created_at: Generated<Date>
}

export interface ConsoleTables extends MerchantTables {
  'console.users': UsersTable
  'console.tokens': TokensTable
  'console.sessions': SessionsTable
  'console.merchant_keys': MerchantKeysTable
}

export type Db = Kysely<ConsoleTables>
