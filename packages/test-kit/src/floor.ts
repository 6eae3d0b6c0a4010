import { fileURLToPath } from 'node:url'
import { runs, type CpuGroups } from './cpu.js'

/** The durable floor's recorder, run as a process by the benchmarks (see floor-recorder.ts). */
export const FLOOR_RECORDER_ENTRY = fileURLToPath(new URL('./floor-recorder.ts', import.meta.url))

/** The floor's processes, for startCpuMeter: its bare server (`bench/floor-server.ts`) and recorder. */
export const floorCpuGroups: CpuGroups = {
  'floor server': runs('bench/floor-server.ts'),
  'floor recorder': runs('test-kit/src/floor-recorder.ts')
}
