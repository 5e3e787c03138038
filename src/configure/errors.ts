/**
 * A mistake the user can fix (bad flag, existing file, empty passphrase): the CLI prints the one-line
 * message without a stack. Kept local until the shared `UserError` lands; it can then extend that.
 */
export class ConfigureError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "ConfigureError";
  }
}
