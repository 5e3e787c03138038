/** `configure`: generates the mTLS material and sample configs for the handler and Fluentd. */
export { runConfigure, FILE_NAMES, type ConfigureIO, type ConfigureResult } from "./run.ts";
export { DEFAULT_TTL, DEFAULT_ADDR, DEFAULT_DNS_NAMES, DEFAULT_LENGTH, type ConfigureArgs } from "./options.ts";
export { ConfigureError } from "./errors.ts";
