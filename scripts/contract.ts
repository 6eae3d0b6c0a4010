// pnpm contract: checks dojo-sandbox and dojo-client against Dojo's published OpenAPI documents
// and writes docs/dojo-contract.md. Exits non-zero when the specs are missing or a
// payment-links operation fails.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runContract, startContractSandbox, type ContractResult } from '../test/dojo-contract/checks.js'
import { renderReport } from '../test/dojo-contract/report.js'
import { findSpecDir, loadSpec, REPO_ROOT, specFiles } from '../test/dojo-contract/spec.js'

const { dir, tried } = findSpecDir()
if (dir === undefined) {
  console.error(`Dojo's OpenAPI documents not found; looked in:\n  ${tried.join('\n  ')}\nSet DOJO_OPENAPI_DIR to the folder holding dojo-<version>.json|yaml.`)
  process.exit(2)
}

const teardowns: Array<() => unknown> = []
const context = { teardown: (fn: () => unknown) => { teardowns.push(fn) }, name: 'contract' }
const results: ContractResult[] = []
try {
  const sandbox = await startContractSandbox(context)
  for (const file of specFiles(dir)) results.push(await runContract(context, await loadSpec(file), sandbox))
} finally {
  for (const fn of teardowns.reverse()) await fn()
}

const report = renderReport(results)
const out = join(REPO_ROOT, 'docs', 'dojo-contract.md')
writeFileSync(out, report)
console.log(report.split('\n').filter((l) => (l.startsWith('| ') && l.includes('**')) || l.startsWith('- ')).join('\n'))
const failed = results.flatMap((r) => r.operations.filter((o) => o.paymentLinks && o.result !== 'pass').map((o) => `${r.spec.version} ${o.operation.operationId}`))
console.log(`\nwrote ${out}`)
if (failed.length > 0) {
  console.error(`payment-links operations failing: ${failed.join(', ')}`)
  process.exitCode = 1
}
