import type { AutoExpireAction, CaptureMode } from '@paylinks/contracts'
import { LinkErrorCodes, linkError } from '../errors.js'

interface CaptureOptions { captureMode?: CaptureMode, autoExpireAction?: AutoExpireAction, autoExpireIn?: string }

/** A .NET TimeSpan `dd.hh:MM:ss` in milliseconds; undefined when malformed. */
function timespanMs (span: string): number | undefined {
  const m = /^(?:(\d{1,2})\.)?(\d{2}):(\d{2}):(\d{2})$/.exec(span)
  if (m === null) return undefined
  const [days, hours, minutes, seconds] = [Number(m[1] ?? 0), Number(m[2]), Number(m[3]), Number(m[4])]
  if (hours > 23 || minutes > 59 || seconds > 59) return undefined
  return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000
}

/** Dojo's rules for Manual capture options, checked before anything is recorded (422 otherwise). */
export function checkCaptureMode (body: CaptureOptions): void {
  if (body.captureMode !== 'Manual' && (body.autoExpireAction !== undefined || body.autoExpireIn !== undefined)) {
    throw linkError(LinkErrorCodes.invalid, 422, 'autoExpireAction and autoExpireIn apply only to captureMode Manual.', { pointer: '/body/captureMode' })
  }
  if (body.autoExpireIn !== undefined) {
    const ms = timespanMs(body.autoExpireIn)
    if (ms === undefined || ms <= 30_000 || ms >= 7 * 86_400_000) {
      throw linkError(LinkErrorCodes.invalid, 422, 'autoExpireIn must be dd.hh:MM:ss, more than 30 seconds and less than 7 days.', { pointer: '/body/autoExpireIn' })
    }
  }
}

/** The capture options of a link request: only a Manual one carries any. */
export function manualCapture (body: CaptureOptions): CaptureOptions {
  if (body.captureMode !== 'Manual') return {}
  return { captureMode: 'Manual', ...(body.autoExpireAction === undefined ? {} : { autoExpireAction: body.autoExpireAction }), ...(body.autoExpireIn === undefined ? {} : { autoExpireIn: body.autoExpireIn }) }
}
