/** Exit code for anything the user can fix, so scripts can tell it from a runtime failure (1). */
export const EXIT_USAGE = 2;

/** exit-on-last-event: the run caught up, but some events were dead-lettered (see `dead-letters list`). */
export const EXIT_DEAD_LETTERED = 3;

/**
 * The one base of errors the user can fix: a setting, a file, the command line, the storage. The CLI
 * prints the message as one line (it must name what to change) and exits with EXIT_USAGE; anything
 * else is a bug or an outage, exits 1 and keeps its stack for `--debug`. Every domain's own class
 * extends this one, so the CLI recognises them by class, never by message or name.
 */
export class UserError extends Error {
  readonly exitCode = EXIT_USAGE;

  constructor(message: string) {
    super(message);
    // The subclass's name, for --debug stacks, without each class repeating it.
    this.name = new.target.name;
  }
}

/** A setting is missing, malformed or contradicts another one. */
export class ConfigError extends UserError {}

/** The command line itself is wrong: unknown flag, unknown command, flag without its value. */
export class UsageError extends UserError {}

/**
 * An outage that ended the run, already said in full: what failed and what to do (no progress for
 * exit-timeout, a full disk). Exit 1 like any runtime failure, since no setting is wrong, but the
 * message is the whole story, so the CLI prints it without the "--debug" hint a bug gets.
 */
export class OutageError extends Error {
  readonly exitCode = 1;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
