import nodemailer from 'nodemailer'
import type { Money } from '@paylinks/contracts'

export interface Mailer {
  /** Send the link to the customer; resolves with the SMTP message id. */
  sendLink: (input: MailInput) => Promise<string>
  /** Remind the customer of the unpaid link ("Reminder: payment request from <merchant>"); the SMTP message id. */
  sendReminder: (input: MailInput) => Promise<string>
  close: () => void
}

/** What a link's e-mail says: the customer, the merchant, the short URL and the payment. */
export interface MailInput { to: string, name?: string, merchantName: string, url: string, amount: Money, reference: string, description?: string, expiresAt: string }

export function formatMoney (amount: Money): string {
  return new Intl.NumberFormat('en-GB', { style: 'currency', currency: amount.currencyCode }).format(amount.value / 100)
}

export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** E-mail over SMTP (nodemailer), with text and HTML parts; every step has a timeout. */
export function createMailer (options: { url: string, from: string, timeoutMs: number }): Mailer {
  const transport = nodemailer.createTransport({
    url: options.url,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs
  } as any)
  return {
    async sendLink (input) {
      const amount = formatMoney(input.amount)
      const greeting = input.name === undefined ? 'Hello,' : `Hello ${input.name},`
      const expires = new Date(input.expiresAt).toUTCString()
      const text = [
        greeting, '',
        `${input.merchantName} has sent you a payment link for ${amount} (reference ${input.reference}).`,
        ...(input.description === undefined ? [] : [input.description]), '',
        `Pay securely here: ${input.url}`, '',
        `The link expires on ${expires}.`
      ].join('\n')
      const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>${escapeHtml(greeting)}</p>
<p>${escapeHtml(input.merchantName)} has sent you a payment link for <strong>${escapeHtml(amount)}</strong> (reference ${escapeHtml(input.reference)}).</p>
${input.description === undefined ? '' : `<p>${escapeHtml(input.description)}</p>`}
<p><a href="${escapeHtml(input.url)}">Pay ${escapeHtml(amount)} securely</a></p>
<p style="color:#555">The link expires on ${escapeHtml(expires)}.</p>
</body></html>`
      const info = await transport.sendMail({
        from: options.from,
        to: input.to,
        subject: `Payment request from ${input.merchantName}: ${amount}`,
        text,
        html
      })
      return String(info.messageId ?? '')
    },
    async sendReminder (input) {
      const amount = formatMoney(input.amount)
      const greeting = input.name === undefined ? 'Hello,' : `Hello ${input.name},`
      const expires = new Date(input.expiresAt).toUTCString()
      const text = [
        greeting, '',
        `A reminder: ${input.merchantName} asked you to pay ${amount} (reference ${input.reference}), and it is not paid yet.`,
        ...(input.description === undefined ? [] : [input.description]), '',
        `Pay securely here: ${input.url}`, '',
        `The link expires on ${expires}. If you have paid already, please ignore this e-mail.`
      ].join('\n')
      const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>${escapeHtml(greeting)}</p>
<p>A reminder: ${escapeHtml(input.merchantName)} asked you to pay <strong>${escapeHtml(amount)}</strong> (reference ${escapeHtml(input.reference)}), and it is not paid yet.</p>
${input.description === undefined ? '' : `<p>${escapeHtml(input.description)}</p>`}
<p><a href="${escapeHtml(input.url)}">Pay ${escapeHtml(amount)} securely</a></p>
<p style="color:#555">The link expires on ${escapeHtml(expires)}. If you have paid already, please ignore this e-mail.</p>
</body></html>`
      const info = await transport.sendMail({
        from: options.from,
        to: input.to,
        subject: `Reminder: payment request from ${input.merchantName}`,
        text,
        html
      })
      return String(info.messageId ?? '')
    },
    close () { transport.close() }
  }
}
