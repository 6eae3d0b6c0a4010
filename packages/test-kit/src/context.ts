/** What our helpers need of a tap test: a place to register clean-up. */
export interface TestContext {
  teardown: (fn: () => unknown) => void
  name?: string
}

const stacks = new WeakMap<TestContext, Array<() => unknown>>()

/**
 * Register clean-up that runs last-in-first-out, like `defer`: a pool made after its database
 * closes before the database is dropped. (tap's own teardowns run in the order added.)
 */
export function onTeardown (t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t)
  if (stack === undefined) {
    const created: Array<() => unknown> = []
    stack = created
    stacks.set(t, created)
    t.teardown(async () => {
      while (created.length > 0) await created.pop()!()
    })
  }
  stack.push(fn)
}

/** A short random suffix for names that must not collide across parallel test files. */
export function uniqueSuffix (): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
}
