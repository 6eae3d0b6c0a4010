import { payments } from './payments.js'
import type { Projection } from './projection.js'

/** Every projection the projector keeps. Bump a projection's version to rebuild it on deploy. */
export const projections: Projection[] = [payments]
