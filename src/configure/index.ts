/** `configure`: generates the mTLS material and sample configs for the handler and Fluentd. */
export { runConfigure, FILE_NAMES, type ConfigureResult } from "./run.ts";
export { DEFAULT_TTL, type ConfigureArgs } from "./options.ts";
export { ConfigureError } from "./errors.ts";
