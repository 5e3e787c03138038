/**
 * Errors the user can fix. The CLI prints their message as one line and exits with `exitCode`;
 * anything else is a bug or an outage and keeps its stack for `--debug`.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** Exit code for bad configuration or command-line usage, so scripts can tell it from a runtime failure. */
export const EXIT_USAGE = 2;

/** exit-on-last-event: the run caught up, but some events were dead-lettered (see `dead-letters list`). */
export const EXIT_DEAD_LETTERED = 3;

/** A setting is missing, malformed or contradicts another one. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = "ConfigError";
  }
}

/** The command line itself is wrong: unknown flag, unknown command, flag without its value. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = "UsageError";
  }
}
