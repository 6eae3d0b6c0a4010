export { default as app, type AppOptions, type WebhookIngest } from './app.js'
export { IngestConfigSchema, type IngestConfig } from './config.js'
export { IngestError, IngestErrorCodes, type IngestErrorCode } from './errors.js'
export { forwardPath, linkStatusFor, SETTLED_STATUSES } from './status.js'
