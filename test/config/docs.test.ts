import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LOG_LABELS } from "../../src/config/describe.ts";
import { OPTION_LIST, OPTIONS } from "../../src/config/options.ts";
import { TABLE_BEGIN, TABLE_END, renderConfigTable, withConfigTable } from "../../src/config/readme-table.ts";

test("README configuration table matches the options table (run bun scripts/gen-readme-config.ts)", () => {
  const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
  expect(readme).toContain(TABLE_BEGIN);
  expect(readme).toContain(TABLE_END);
  expect(withConfigTable(readme)).toBe(readme);
});

test("the README table has one row per option with its env names", () => {
  const table = renderConfigTable();
  for (const [, def] of OPTION_LIST) {
    const row = table.split("\n").find((l) => l.startsWith(`| \`--${def.flag}\``));
    expect(row, def.flag).toBeDefined();
    for (const env of def.env) expect(row).toContain(`\`${env}\``);
  }
});

test("Config fields are the camelCase flag names", () => {
  for (const [key, def] of OPTION_LIST) {
    expect(key as string).toBe(def.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()));
  }
});

test("env names follow FDFWD_<FLAG> except the Go tool's documented names", () => {
  const goNames: Record<string, string> = {
    "fluentd-max-connections": "FDFWD_MAX_CONNECTIONS",
    "lock-enabled": "FDFWD_LOCKING_ENABLED",
    "lock-failed-attempts-count": "FDFWD_LOCKING_FAILED_ATTEMPTS",
    "lock-period": "FDFWD_LOCKING_PERIOD",
    "lock-for": "FDFWD_LOCKING_FOR",
  };
  for (const [, def] of OPTION_LIST) {
    expect(def.env[0]).toBe(goNames[def.flag] ?? `FDFWD_${def.flag.toUpperCase().replace(/-/g, "_")}`);
    for (const alias of def.env.slice(1)) expect(alias).toBe(def.env[0]!.replace("FDFWD_", "FDWRD_"));
  }
  expect(OPTIONS.fluentdCa.env).toEqual(["FDFWD_FLUENTD_CA", "FDWRD_FLUENTD_CA"]);
  expect(OPTIONS.teleportCert.env).toEqual(["FDFWD_TELEPORT_CERT", "FDWRD_TELEPORT_CERT"]);
});

test("every non-global option has a start-up log label", () => {
  for (const [key, def] of OPTION_LIST) {
    if (def.group !== "global") expect(LOG_LABELS[key], key).toBeDefined();
  }
});

test("Config field types (checked by tsc)", () => {
  // Assignments below fail the type check if the table-derived Config type drifts.
  const sample = (c: import("../../src/config/options.ts").Config) => {
    const routing: "auto" | "on" | "off" = c.teleport.tlsRouting;
    const format: "text" | "json" = c.global.logFormat;
    const tag: string = c.fluentd.url.tag;
    const storage: string = c.ingest.storage;
    const start: Date | undefined = c.ingest.startTime;
    const bytes: number = c.fluentd.batchBytes;
    const lockFor: number = c.locking.for;
    const headers: { name: string; value: string }[] = c.fluentd.header;
    const dryRun: boolean = c.ingest.dryRun;
    const cluster: string | undefined = c.teleport.cluster;
    const port: number = c.teleport.addr.port;
    const metrics: number | undefined = c.observability.metricsAddr?.port;
    return [routing, format, tag, storage, start, bytes, lockFor, headers, dryRun, cluster, port, metrics];
  };
  expect(typeof sample).toBe("function");
});
