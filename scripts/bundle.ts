// `pnpm bundle [--out <dir>]`: the production tree, compiled JavaScript with no TypeScript loader.
// Each entry point becomes one ES module with our workspace packages inside it and every npm
// package left as an import, resolved from a production-only `node_modules` at run time (the
// Dockerfile installs it). The tree keeps the repository's depths, so paths a module finds
// relative to itself (the migrations, the dashboard's files) hold in both layouts.
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { build, type Plugin } from 'esbuild'

const root = join(import.meta.dirname, '..')
const { values } = parseArgs({ options: { out: { type: 'string' } } })
const out = values.out ?? join(root, '.bundle')

/** The entry points the image runs: `<source> -> <bundle>`, both relative to the root. */
const ENTRIES: Record<string, string> = {
  'services/event-recorder/src/server.ts': 'services/event-recorder/bundle/server.mjs',
  'services/link-issuer/src/server.ts': 'services/link-issuer/bundle/server.mjs',
  'services/link-issuer/src/admin.ts': 'services/link-issuer/bundle/admin.mjs',
  'services/webhook-ingest/src/server.ts': 'services/webhook-ingest/bundle/server.mjs',
  'services/projector/src/server.ts': 'services/projector/bundle/server.mjs',
  'services/projector/src/cli.ts': 'services/projector/bundle/projections.mjs',
  'services/dojo-sandbox/src/server.ts': 'services/dojo-sandbox/bundle/server.mjs',
  'services/webhook-dispatch/src/server.ts': 'services/webhook-dispatch/bundle/server.mjs',
  'services/console/src/server.ts': 'services/console/bundle/server.mjs',
  'services/console/src/admin.ts': 'services/console/bundle/admin.mjs',
  // `pnpm migrate`, at event-store's depth (it finds ../../../migrations beside itself).
  'scripts/migrate.ts': 'packages/event-store/bundle/migrate.mjs'
}

/** Files read at run time, copied as they are. */
const FILES = [
  'migrations',
  'deploy',
  // The dashboard's page: one level up from the bundle, as it is from src/routes/.
  'services/projector/src/dashboard:services/projector/dashboard'
]
/** Copied when they exist: the console's web app, once built (pnpm --filter @paylinks/console-web build). */
const OPTIONAL_FILES = ['services/console/web/dist']

/** Our packages are compiled in; everything from npm stays an import. */
const npmExternal: Plugin = {
  name: 'npm-external',
  setup (b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => args.path.startsWith('@paylinks/') ? undefined : { path: args.path, external: true })
  }
}

rmSync(out, { recursive: true, force: true })
for (const [source, target] of Object.entries(ENTRIES)) {
  await build({
    entryPoints: [join(root, source)],
    outfile: join(out, target),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [npmExternal]
  })
}
for (const entry of FILES) {
  const [from, to = from] = entry.split(':') as [string, string?]
  mkdirSync(join(out, to, '..'), { recursive: true })
  cpSync(join(root, from), join(out, to), { recursive: true })
}
for (const entry of OPTIONAL_FILES) {
  if (!existsSync(join(root, entry))) continue
  mkdirSync(join(out, entry, '..'), { recursive: true })
  cpSync(join(root, entry), join(out, entry), { recursive: true })
}
console.log(`bundled ${Object.keys(ENTRIES).length} entry points into ${out}`)
