import type { JSX } from 'preact'
import { useEffect } from 'preact/hooks'
import { api, type Dashboard, type LinkPage } from '../api.js'
import { DailyChart, Funnel } from '../charts.js'
import { formatMoney } from '../money.js'
import { LinkTable } from './links.js'
import { Loading, PageTitle, useLoad } from '../ui.js'

function amounts (list: Array<{ currency: string, amount: number }>): string {
  return list.length === 0 ? '–' : list.map((c) => formatMoney(c.amount, c.currency)).join(' · ')
}

/** `/console/`: the projector dashboard's figures for this merchant, and the latest links. */
export function DashboardPage (): JSX.Element {
  const figures = useLoad(async () => await api<Dashboard>('/dashboard'), [])
  const recent = useLoad(async () => await api<LinkPage>('/links'), [])
  // The figures follow payments as they are recorded: refresh every few seconds while open.
  useEffect(() => {
    const timer = setInterval(() => { figures.reload(); recent.reload() }, 5000)
    return () => clearInterval(timer)
  }, [])
  const d = figures.data
  return (
    <>
      <PageTitle>Dashboard</PageTitle>
      {d === undefined
        ? <Loading error={figures.error} />
        : (
          <>
            <section aria-labelledby='totals-title'>
              <h2 id='totals-title'>Last {d.days} days</h2>
              <dl class='cards'>
                <div class='card'><dt>Links issued</dt><dd>{d.totals.issued}</dd></div>
                <div class='card'><dt>Paid</dt><dd>{d.totals.paid}</dd></div>
                <div class='card'><dt>Conversion</dt><dd>{d.totals.conversionRate === null ? '–' : `${(d.totals.conversionRate * 100).toFixed(1)} %`}</dd></div>
                <div class='card'><dt>Captured</dt><dd>{amounts(d.totals.captured)}</dd></div>
                <div class='card'><dt>Refunded</dt><dd>{amounts(d.totals.refunded)}</dd></div>
              </dl>
            </section>
            <section aria-labelledby='daily-heading'>
              <h2 id='daily-heading'>Issued vs paid, per day</h2>
              <DailyChart daily={d.daily} />
            </section>
            <section aria-labelledby='funnel-title'>
              <h2 id='funnel-title'>Funnel</h2>
              <Funnel funnel={d.funnel} />
              {d.timeToPaySeconds.median !== null && (
                <p>Time from issue to payment: median {Math.round(d.timeToPaySeconds.median)} s, p90 {Math.round(d.timeToPaySeconds.p90 ?? 0)} s</p>
              )}
            </section>
          </>
          )}
      <section aria-labelledby='recent-title'>
        <h2 id='recent-title'>Recent links</h2>
        {recent.data === undefined ? <Loading error={recent.error} /> : <LinkTable links={recent.data.data.slice(0, 10)} caption='The ten newest links' />}
        <p><a href='/console/links'>All links</a></p>
      </section>
    </>
  )
}
