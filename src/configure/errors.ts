import { UserError } from "../errors.ts";

/** A mistake the user can fix (bad flag, existing file, empty passphrase): one line, exit 2. */
export class ConfigureError extends UserError {}
