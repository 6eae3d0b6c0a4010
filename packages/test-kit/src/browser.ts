/// <reference lib="dom" />
import axe from 'axe-core'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { onTeardown, type TestContext } from './context.js'

/** Debian's chromium, headless. Without these flags it reaches for the network, which is closed here. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** Chromium (`/usr/bin/chromium`, or `CHROMIUM_PATH`), closed at teardown. */
export async function launchChromium (t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS })
  onTeardown(t, () => browser.close())
  return browser
}

/** The axe-core rule tags every page a person sees must pass: WCAG 2.0 and 2.1, levels A and AA. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']

/** One failed axe rule, with where it failed: enough to fix it from a test's output. */
export interface AxeViolation {
  id: string
  impact: string | null
  help: string
  nodes: Array<{ target: string, summary: string }>
}

/**
 * axe-core's WCAG 2 A/AA rules run on the page as it is now; [] when it passes. axe is injected
 * with `addScriptTag`: a page with a strict Content-Security-Policy (the checkout) needs a
 * browser context made with `bypassCSP: true`, or the script is refused.
 */
export async function axeViolations (page: Page): Promise<AxeViolation[]> {
  if (!await page.evaluate(() => 'axe' in window)) {
    await page.addScriptTag({ content: axe.source }).catch((error: unknown) => {
      throw new Error(`axe-core could not be injected into ${page.url()} (a page with a CSP needs a context made with bypassCSP: true)`, { cause: error })
    })
  }
  return await page.evaluate(async (tags) => {
    const run = (window as unknown as { axe: typeof axe }).axe.run
    const result = await run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary ?? '' }))
    }))
  }, WCAG_TAGS)
}

/**
 * Put axe-core into every page of `context` before the page's own scripts run. Chromium injects
 * it over CDP, which no Content-Security-Policy governs: the pages keep their CSP in force (what
 * a customer or staff member gets) and can still be checked with `assertAccessible`.
 */
export async function preloadAxe (context: BrowserContext): Promise<void> {
  await context.addInitScript({ content: axe.source })
}

/** What a test needs to assert with: tap's `t.same`. */
export interface AssertingContext { same: (found: unknown, wanted: unknown, message: string) => unknown }

/** Assert the page passes axe's WCAG 2 A and AA rules; the message lists what failed and where. */
export async function assertAccessible (t: AssertingContext, page: Page, what: string): Promise<void> {
  const violations = await axeViolations(page)
  const detail = violations.map((v) => `${v.id} (${v.impact ?? '?'}): ${v.help}\n${v.nodes.map((n) => `  ${n.target}: ${n.summary}`).join('\n')}`).join('\n')
  t.same(violations.map((v) => v.id), [], `${what} passes axe-core's WCAG 2 A/AA rules${detail === '' ? '' : `\n${detail}`}`)
}

/** A test card as the sandbox's checkout page takes it (src/cards.ts of dojo-sandbox). */
export interface TestCard { number: string, expiry: string, cvv: string }
/** The card the sandbox always takes, without 3-D Secure. */
export const SUCCESS_CARD: TestCard = { number: '5200 0000 0000 1005', expiry: '12/29', cvv: '020' }

/** Fill the (sandbox's) checkout form as a customer would, and press Pay. */
export async function payAtCheckout (page: Page, card: TestCard = SUCCESS_CARD, name = 'Sam Customer'): Promise<void> {
  await page.getByLabel('Card number').fill(card.number)
  await page.getByLabel('Expiry date').fill(card.expiry)
  await page.getByLabel('Security code').fill(card.cvv)
  await page.getByLabel('Name on card').fill(name)
  await page.getByRole('button', { name: 'Pay' }).click()
}
