// pnpm admin <command>: the command line of src/admin-cli.ts (`pnpm admin --help` lists them).
import { admin } from './admin-cli.js'

process.exitCode = await admin(process.argv.slice(2))
