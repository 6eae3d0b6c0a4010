/// <reference types="@fastify/swagger" preserve="true" />
// Route schemas across services carry OpenAPI fields (tags, summary): bring in the augmentation.
export { loadConfig, ServerConfigSchema, type ServerConfig } from './config.js'
export { ConfigError, ProblemSchema, ServiceError, ServiceErrorCodes, type Problem, type ServiceErrorOptions } from './errors.js'
export { decodeCursor, encodeCursor, type CursorKey } from './cursor.js'
export { acceptEmptyJsonBodies } from './json-body.js'
export { health, type Readiness, type ReadinessCheck } from './health.js'
export { loggerOptions, REDACT_PATHS, scrubSecrets } from './logger.js'
export { metrics } from './metrics.js'
export { serverOptions } from './options.js'
export { isUnavailableError, problemDetails, sendProblem } from './problem-details.js'
export { startServer } from './server.js'
export { serviceKit, type ServiceKitOptions } from './service-kit.js'
export { localDataDir, withLocalSetup, writeLocalSetup, type LocalSetup } from './local-setup.js'
