export { uniqueSuffix, type TestContext } from './context.js'
