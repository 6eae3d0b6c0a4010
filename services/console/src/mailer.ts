import nodemailer from 'nodemailer'

export interface ConsoleMailer {
  /** Invite to a merchant's console; resolves once the SMTP server accepted it. */
  sendInvite: (input: { to: string, merchantName: string, role: string, url: string, expiresAt: string }) => Promise<void>
  /** A password-reset link. */
  sendReset: (input: { to: string, url: string, expiresAt: string }) => Promise<void>
  close: () => void
}

/** The console's e-mails over SMTP (nodemailer), text only; every step has a timeout. */
export function createConsoleMailer (options: { url: string, from: string, timeoutMs: number }): ConsoleMailer {
  const transport = nodemailer.createTransport({
    url: options.url,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs
  } as any)
  const send = async (to: string, subject: string, lines: string[]): Promise<void> => {
    await transport.sendMail({ from: options.from, to, subject, text: lines.join('\n') })
  }
  return {
    async sendInvite (input) {
      await send(input.to, `You are invited to ${input.merchantName}'s payments console`, [
        'Hello,', '',
        `You have been invited to ${input.merchantName}'s payments console as ${input.role}.`,
        `Choose your password here: ${input.url}`, '',
        `The invitation expires on ${new Date(input.expiresAt).toUTCString()}.`
      ])
    },
    async sendReset (input) {
      await send(input.to, 'Reset your payments console password', [
        'Hello,', '',
        `Someone asked to reset the password of this e-mail address. Choose a new one here: ${input.url}`, '',
        `The link expires on ${new Date(input.expiresAt).toUTCString()}. If you did not ask, ignore this e-mail: your password stays as it is.`
      ])
    },
    close () { transport.close() }
  }
}
