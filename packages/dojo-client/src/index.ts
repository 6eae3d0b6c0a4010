export { createDojoClient, DEFAULT_API_VERSION, DOJO_API_URL, DojoClientOptionsSchema, type DojoClient, type DojoClientOptions, type DojoEnvironment, type FindByReferenceOptions, type RefundInput } from './client.js'
export { DojoError, DojoErrorCodes, isDojoError, type DojoErrorCode, type DojoErrorOptions } from './errors.js'
export { signWebhookBody, verifyWebhookSignature } from './signature.js'
export * from './schemas.js'
