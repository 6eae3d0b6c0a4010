// Dojo's published contract as a test, both ways: dojo-client's requests and dojo-sandbox's
// answers against Dojo's OpenAPI documents (found by findSpecDir; skipped when absent).
import t from 'tap'
import { camelKeys, PAYMENT_LINK_OPERATIONS, runContract, startContractSandbox } from './dojo-contract/checks.js'
import { findSpecDir, loadSpec, specFiles } from './dojo-contract/spec.js'

// Gaps found and not closed yet: reported as todo, so they stay visible without failing CI.
const KNOWN_GAPS: Record<string, string> = {}

const { dir, tried } = findSpecDir()
if (dir === undefined) {
  t.test('dojo contract should hold against Dojo\'s published specs', { skip: `Dojo's OpenAPI documents not found (looked in ${tried.join(', ')}; set DOJO_OPENAPI_DIR)` }, async () => {})
} else {
  for (const file of specFiles(dir)) {
    const spec = await loadSpec(file)

    t.test(`Dojo's ${spec.version} examples should match its own schemas, given the listed extras`, async (t) => {
      for (const op of spec.operations) {
        for (const [name, example] of Object.entries(op.request?.examples ?? {})) {
          const unknown = spec.validate(op.request!.schema, camelKeys(example, op.request!.schema)).filter((e) => e.includes('unknown property'))
          t.same(unknown, [], `${op.operationId} request example ${name}`)
        }
        for (const [status, response] of Object.entries(op.responses)) {
          if (response.schema === undefined) continue
          for (const [name, example] of Object.entries(response.examples)) {
            const unknown = spec.validate(response.schema, example).filter((e) => e.includes('unknown property'))
            t.same(unknown, [], `${op.operationId} ${status} example ${name}`)
          }
        }
      }
    })

    t.test(`dojo-sandbox and dojo-client should hold to Dojo's ${spec.version} spec`, async (t) => {
      const sandbox = await startContractSandbox(t)
      const result = await runContract(t, spec, sandbox)

      for (const id of PAYMENT_LINK_OPERATIONS) {
        const op = result.operations.find((o) => o.operation.operationId === id)
        t.test(`${id} should be served by the sandbox and implemented by the client (${spec.version})`, { todo: KNOWN_GAPS[id] ?? false }, async (t) => {
          t.ok(op?.served, 'served by the sandbox')
          t.ok(op?.implemented, 'implemented by the client')
        })
      }

      for (const op of result.operations.filter((o) => o.findings.length > 0)) {
        t.test(`${op.operation.operationId} should match Dojo's ${spec.version} spec`, { todo: KNOWN_GAPS[op.operation.operationId] ?? false }, async (t) => {
          for (const f of op.findings) t.same(f.errors, [], `${f.side}: ${f.case}`)
        })
      }
    })
  }
}
