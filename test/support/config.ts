import { loadConfig } from "../../src/config/load.ts";
import type { Config, FluentdConfig, TeleportConfig } from "../../src/config/options.ts";
import { makeConfigFixture } from "./config-fixture.ts";

/**
 * A configuration with every default from the options table, loaded as `start` loads it (so tests
 * never restate a default), for unit tests that build one part from its group.
 */
export function defaultConfig(env: Record<string, string> = {}): Config {
  const fx = makeConfigFixture();
  try {
    return loadConfig({ cli: {}, env: { ...fx.env, FDFWD_FLUENTD_ALLOW_INSECURE: "true", FDFWD_FLUENTD_CERT: "", FDFWD_FLUENTD_KEY: "", ...env }, cwd: fx.dir }).config;
  } finally {
    fx.cleanup();
  }
}

export function fluentdConfig(over: Partial<FluentdConfig> = {}): FluentdConfig {
  return { ...defaultConfig().fluentd, ...over };
}

export function teleportConfig(over: Partial<TeleportConfig> = {}): TeleportConfig {
  return { ...defaultConfig().teleport, identity: undefined, ...over };
}
