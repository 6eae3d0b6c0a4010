// pnpm admin console <command>: the command line of src/admin-cli.ts.
import { admin } from './admin-cli.js'

process.exitCode = await admin(process.argv.slice(2), { env: process.env, out: (s) => { console.log(s) }, err: (s) => { console.error(s) } })
