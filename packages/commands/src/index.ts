export { handleCommand, type CommandOptions, type CommandResult, type KnownState, type RetryOptions } from './handle-command.js'
export { CommandError, CommandErrorCodes, type CommandErrorCode } from './errors.js'
