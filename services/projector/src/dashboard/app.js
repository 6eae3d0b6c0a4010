// The dashboard's client: asks for an API key, then polls /v1/dashboard every two seconds.
// Text goes in through textContent only.
(function () {
  'use strict'
  let key = sessionStorage.getItem('paylinks-api-key')
  let chart = null
  let timer = null
  const form = document.getElementById('key-form')
  const input = document.getElementById('api-key')
  const message = document.getElementById('message')
  const board = document.getElementById('board')

  function money (minor, currency) {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(minor / 100)
  }
  function text (id, value) { document.getElementById(id).textContent = value }
  function show (problem) {
    message.textContent = problem
    message.hidden = false
  }

  function render (d) {
    message.hidden = true
    board.hidden = false
    text('total-issued', String(d.totals.issued))
    text('total-paid', String(d.totals.paid))
    text('total-conversion', d.totals.conversionRate === null ? '–' : (d.totals.conversionRate * 100).toFixed(1) + ' %')
    text('total-captured', d.totals.captured.length === 0 ? '–' : d.totals.captured.map(function (c) { return money(c.amount, c.currency) }).join(' · '))
    text('total-refunded', d.totals.refunded.length === 0 ? '–' : d.totals.refunded.map(function (c) { return money(c.amount, c.currency) }).join(' · '))
    const labels = d.daily.map(function (x) { return x.day.slice(5) })
    const issued = d.daily.map(function (x) { return x.issued })
    const paid = d.daily.map(function (x) { return x.paid })
    if (chart === null) {
      chart = new window.Chart(document.getElementById('daily-chart'), {
        type: 'bar',
        data: { labels, datasets: [{ label: 'Issued', data: issued, backgroundColor: '#9db4f0' }, { label: 'Paid', data: paid, backgroundColor: '#1f9d55' }] },
        options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      })
    } else {
      chart.data.labels = labels
      chart.data.datasets[0].data = issued
      chart.data.datasets[1].data = paid
      chart.update('none')
    }
    const funnel = document.getElementById('funnel')
    funnel.replaceChildren()
    const top = Math.max(1, d.funnel.requested)
    ;['requested', 'issued', 'sent', 'opened', 'paid'].forEach(function (step) {
      const li = document.createElement('li')
      const label = document.createElement('span')
      label.className = 'label'
      label.textContent = step + ' ' + d.funnel[step]
      const bar = document.createElement('span')
      bar.className = 'bar'
      bar.style.width = (60 * d.funnel[step] / top) + '%'
      li.append(label, bar)
      funnel.append(li)
    })
    text('time-to-pay', d.timeToPaySeconds.median === null ? '' : 'Time from issue to payment: median ' + Math.round(d.timeToPaySeconds.median) + ' s, p90 ' + Math.round(d.timeToPaySeconds.p90) + ' s')
    const body = document.getElementById('latest')
    body.replaceChildren()
    d.latest.forEach(function (p) {
      const tr = document.createElement('tr')
      const status = document.createElement('span')
      status.className = 'status ' + p.status
      status.textContent = p.status
      ;[new Date(p.createdAt).toLocaleString(), p.reference, p.merchantId, money(p.amount.value, p.amount.currencyCode)].forEach(function (v) {
        const td = document.createElement('td')
        td.textContent = v
        tr.append(td)
      })
      const td = document.createElement('td')
      td.append(status)
      tr.append(td)
      body.append(tr)
    })
    const lag = document.getElementById('lag')
    const behind = d.lag.reduce(function (n, l) { return n + l.eventsBehind }, 0)
    const seconds = d.lag.reduce(function (n, l) { return Math.max(n, l.secondsBehind) }, 0)
    lag.textContent = behind === 0 ? 'Up to date' : behind + ' events (' + seconds.toFixed(1) + ' s) behind'
    lag.className = behind === 0 ? '' : 'behind'
  }

  function refresh () {
    fetch('/v1/dashboard', { headers: { authorization: 'Bearer ' + key } }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.detail || res.statusText)
        render(body)
      })
    }).catch(function (error) { show(error.message) })
  }

  function start () {
    if (timer !== null) clearInterval(timer)
    refresh()
    timer = setInterval(refresh, 2000)
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault()
    key = input.value.trim()
    sessionStorage.setItem('paylinks-api-key', key)
    start()
  })
  if (key) start()
})()
