import { FormatRegistry } from '@sinclair/typebox'

// TypeBox's own checker knows no string formats; Fastify's Ajv does. Register the ones our
// schemas use so both validators agree.
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i

if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (value) => uuid.test(value))
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (value) => dateTime.test(value) && !Number.isNaN(Date.parse(value)))
if (!FormatRegistry.Has('email')) FormatRegistry.Set('email', (value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value))
if (!FormatRegistry.Has('uri')) FormatRegistry.Set('uri', (value) => URL.canParse(value))
