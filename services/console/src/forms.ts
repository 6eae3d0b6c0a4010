import { ROLES, passwordProblem } from './accounts.js'
import { invalidForm, type FieldError } from './errors.js'
import type { Role } from './tables.js'

// An address with one @, something before it and a dot in the domain: what a form can check;
// the mailbox proves the rest.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/** Collects every field's problem, then throws them together (400 CONSOLE_INVALID). */
export class Form {
  private readonly errors: FieldError[] = []

  email (field: string, value: string | undefined): string {
    const v = value?.trim() ?? ''
    if (v === '') this.fail(field, 'Enter an e-mail address.')
    else if (!EMAIL.test(v)) this.fail(field, 'Enter an e-mail address like name@example.com.')
    return v
  }

  password (field: string, value: string | undefined): string {
    const problem = passwordProblem(value ?? '')
    if (problem !== undefined) this.fail(field, problem)
    return value ?? ''
  }

  required (field: string, value: string | undefined, message: string): string {
    const v = value?.trim() ?? ''
    if (v === '') this.fail(field, message)
    return v
  }

  role (field: string, value: string | undefined): Role {
    if (!ROLES.includes(value as Role)) this.fail(field, 'Choose a role: owner, staff or viewer.')
    return value as Role
  }

  fail (field: string, message: string): void {
    this.errors.push({ field, message })
  }

  /** Throws when any field failed. */
  done (): void {
    if (this.errors.length > 0) throw invalidForm(this.errors)
  }
}
