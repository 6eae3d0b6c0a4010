import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** One line of the state file: the whole current value of one thing, or its removal. */
export interface StateRecord { kind: string, id: string, value?: unknown, removed?: true }

/**
 * The sandbox's state on disk, as an append-only file of JSON lines: each line is the whole
 * current value of one account, intent, subscription or delivery (the last line for an id
 * wins). Lines are written with a synchronous write before the caller answers, so what the
 * sandbox acknowledged survives the process being killed (SIGKILL: the write is in the OS
 * already; a power loss may drop the last moments, as nothing here fsyncs per write). The file
 * is rewritten as a snapshot at open and when it grows well past the live state. One process
 * per directory: `lock` holds the owner's pid.
 */
export class StateFile {
  readonly #file: string
  readonly #lock: string
  #fd: number
  #lines = 0

  /** Open (creating) the state in `dir`; throws if another live sandbox holds it. */
  constructor (readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.#file = join(dir, 'state.jsonl')
    this.#lock = join(dir, 'lock')
    takeLock(this.#lock)
    this.#fd = openSync(this.#file, 'a', 0o600)
  }

  /** Every record in the file, the last per kind and id; a torn last line (a crash mid-write) is ignored. */
  load (): Map<string, StateRecord> {
    const records = new Map<string, StateRecord>()
    if (!existsSync(this.#file)) return records
    const lines = readFileSync(this.#file, 'utf8').split('\n')
    lines.forEach((line, i) => {
      if (line === '') return
      let record: StateRecord
      try {
        record = JSON.parse(line) as StateRecord
      } catch (error) {
        if (i >= lines.length - 2) return
        throw new Error(`${this.#file}: line ${i + 1} is not JSON`, { cause: error })
      }
      this.#lines++
      if (record.removed === true) records.delete(`${record.kind}:${record.id}`)
      else records.set(`${record.kind}:${record.id}`, record)
    })
    return records
  }

  /** Append records (one write); returns when the OS has them. */
  append (records: StateRecord[]): void {
    if (records.length === 0) return
    writeSync(this.#fd, records.map((r) => JSON.stringify(r)).join('\n') + '\n')
    this.#lines += records.length
  }

  /** Whether the file holds many more lines than `live` records: time for a snapshot. */
  wantsCompaction (live: number): boolean {
    return this.#lines > 2 * live + 10_000
  }

  /** Replace the file with just these records (written aside, synced, renamed over). */
  compact (records: StateRecord[]): void {
    const next = `${this.#file}.next`
    writeFileSync(next, records.map((r) => JSON.stringify(r) + '\n').join(''), { mode: 0o600 })
    const fd = openSync(next, 'r+')
    fsyncSync(fd)
    closeSync(fd)
    renameSync(next, this.#file)
    closeSync(this.#fd)
    this.#fd = openSync(this.#file, 'a', 0o600)
    this.#lines = records.length
  }

  close (): void {
    closeSync(this.#fd)
    rmSync(this.#lock, { force: true })
  }
}

function takeLock (file: string): void {
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim())
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new Error(`the sandbox state in ${file.replace(/\/lock$/, '')} is in use by process ${pid}: stop it, or give this one another SANDBOX_STATE_DIR`)
    }
  }
  writeFileSync(file, String(process.pid), { mode: 0o600 })
}

// A pid from before a reboot may now be another program's: only a node process counts (where
// /proc tells; elsewhere any live process does).
function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node')
  } catch (error) {
    // No /proc here (not Linux): trust the signal; gone meanwhile: not alive.
    return !existsSync('/proc/self')
  }
}
