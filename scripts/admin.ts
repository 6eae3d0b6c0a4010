// `pnpm admin …`: `console …` commands belong to the console (services/console/src/admin.ts),
// every other to link-issuer's (services/link-issuer/src/admin.ts). Each runs in its package's
// folder, as `pnpm --filter` would, with the terminal passed through.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const [first, ...rest] = process.argv.slice(2)
const [service, args] = first === 'console' ? ['console', rest] : ['link-issuer', process.argv.slice(2)]
const result = spawnSync(process.execPath, ['--import=tsx', join(root, 'services', service, 'src', 'admin.ts'), ...args], { cwd: join(root, 'services', service), stdio: 'inherit' })
process.exitCode = result.status ?? 1
