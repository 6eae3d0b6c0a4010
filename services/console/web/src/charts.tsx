import type { JSX } from 'preact'

interface Day { day: string, issued: number, paid: number }

/**
 * Issued and paid per day as grouped bars in SVG. The SVG is one labelled image; the same
 * numbers are in a table beside it for screen readers and for anyone who wants the figures.
 */
export function DailyChart ({ daily }: { daily: Day[] }): JSX.Element {
  const width = 640
  const height = 200
  const pad = { left: 32, bottom: 24, top: 8 }
  const top = Math.max(1, ...daily.map((d) => Math.max(d.issued, d.paid)))
  const slot = (width - pad.left) / Math.max(1, daily.length)
  const bar = Math.max(2, slot * 0.35)
  const y = (n: number): number => pad.top + (height - pad.top - pad.bottom) * (1 - n / top)
  const ticks = [0, Math.round(top / 2), top].filter((v, i, a) => a.indexOf(v) === i)
  const total = daily.reduce((n, d) => ({ issued: n.issued + d.issued, paid: n.paid + d.paid }), { issued: 0, paid: 0 })
  return (
    <figure class='chart'>
      <svg viewBox={`0 0 ${width} ${height}`} role='img' aria-labelledby='daily-title'>
        <title id='daily-title'>{`Links issued and paid per day over ${daily.length} days: ${total.issued} issued, ${total.paid} paid`}</title>
        {ticks.map((t) => (
          <g key={t} aria-hidden='true'>
            <line x1={pad.left} x2={width} y1={y(t)} y2={y(t)} class='grid' />
            <text x={pad.left - 6} y={y(t) + 4} text-anchor='end' class='axis'>{t}</text>
          </g>
        ))}
        {daily.map((d, i) => {
          const x = pad.left + i * slot + slot / 2
          return (
            <g key={d.day} aria-hidden='true'>
              <rect x={x - bar} y={y(d.issued)} width={bar} height={y(0) - y(d.issued)} class='bar-issued' />
              <rect x={x} y={y(d.paid)} width={bar} height={y(0) - y(d.paid)} class='bar-paid' />
              {(daily.length <= 14 || i % 2 === 0) && <text x={x} y={height - 6} text-anchor='middle' class='axis'>{d.day.slice(5)}</text>}
            </g>
          )
        })}
      </svg>
      <figcaption>
        <span class='key key-issued' aria-hidden='true' /> Issued <span class='key key-paid' aria-hidden='true' /> Paid
      </figcaption>
      <details>
        <summary>The figures per day</summary>
        <table>
          <caption class='visually-hidden'>Links issued and paid per day</caption>
          <thead><tr><th scope='col'>Day</th><th scope='col'>Issued</th><th scope='col'>Paid</th></tr></thead>
          <tbody>{daily.map((d) => <tr key={d.day}><th scope='row'>{d.day}</th><td>{d.issued}</td><td>{d.paid}</td></tr>)}</tbody>
        </table>
      </details>
    </figure>
  )
}

type FunnelStep = 'requested' | 'issued' | 'sent' | 'opened' | 'paid'

/** The conversion funnel as a list: each step's count in text, its bar a proportion of the first. */
export function Funnel ({ funnel }: { funnel: Record<FunnelStep, number> }): JSX.Element {
  const steps: FunnelStep[] = ['requested', 'issued', 'sent', 'opened', 'paid']
  const top = Math.max(1, funnel.requested)
  return (
    <ol class='funnel'>
      {steps.map((s) => (
        <li key={s}>
          <span class='label'>{s} <strong>{funnel[s]}</strong></span>
          <span class='bar' aria-hidden='true' style={{ width: `${(70 * funnel[s]) / top}%` }} />
        </li>
      ))}
    </ol>
  )
}
