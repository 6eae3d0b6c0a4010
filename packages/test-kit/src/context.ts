/** What our helpers need of a tap test: a place to register clean-up. */
export interface TestContext {
  teardown: (fn: () => unknown) => void
  name?: string
}

/** A short random suffix for names that must not collide across parallel test files. */
export function uniqueSuffix (): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
}
