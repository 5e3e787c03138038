import { describe, expect, test } from "bun:test";
import { ConfigureError, DEFAULT_TTL } from "../../src/configure/index.ts";
import { parseTtl, resolveOptions, type ConfigureArgs } from "../../src/configure/options.ts";
import { fluentdHost } from "../../src/configure/templates/endpoints.ts";
import { fluentdString, tomlString } from "../../src/configure/templates/quote.ts";
import { parse as parseToml } from "smol-toml";
import { unquoteFluentd } from "../support/configure.ts";

function rejects(args: Partial<ConfigureArgs>, fragment: string): void {
  let error: unknown;
  try {
    resolveOptions({ out: "out", ...args });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigureError);
  expect((error as Error).message).toContain(fragment);
  expect((error as Error).message.split("\n")).toHaveLength(1);
}

describe("configure options", () => {
  test("defaults mirror the Go tool except the TTL (one year)", () => {
    const opts = resolveOptions({ out: "out" });
    expect(opts.addr).toBe("localhost:3025");
    expect(opts.names).toEqual({ ca: "ca", server: "server", client: "client" });
    expect(opts.dnsNames).toEqual(["localhost"]);
    expect(opts.ips).toEqual([]);
    expect(opts.rsaBits).toBe(4096);
    expect(opts.force).toBe(false);
    expect(DEFAULT_TTL).toBe("8760h");
    expect(opts.ttlMs).toBe(365 * 24 * 3600 * 1000);
  });

  test("Go durations for --ttl", () => {
    expect(parseTtl("1h30m")).toBe(90 * 60_000);
    expect(parseTtl("87600h")).toBe(87600 * 3_600_000);
    expect(parseTtl("1.5h")).toBe(90 * 60_000);
  });

  test("bad values name the setting", () => {
    rejects({ ttl: "1y" }, "--ttl");
    rejects({ ttl: "10s" }, "too short");
    rejects({ length: "3072" }, "--length");
    rejects({ ip: "10.0.0.300" }, "--ip");
    rejects({ dnsNames: "bad name" }, "--dns-names");
    rejects({ dnsNames: "", ip: "" }, "--dns-names");
    rejects({ caName: "../ca" }, "ca-name");
    rejects({ serverName: "ca" }, "must differ");
    rejects({ addr: "teleport.example.com" }, "host:port");
    rejects({ out: "" }, "output directory");
  });

  test("lists are comma-separated; IP-only server certificates are allowed", () => {
    const opts = resolveOptions({ out: "out", dnsNames: " a.example.com , b.example.com ", ip: "10.0.0.1,::1" });
    expect(opts.dnsNames).toEqual(["a.example.com", "b.example.com"]);
    expect(opts.ips).toEqual(["10.0.0.1", "::1"]);
    expect(resolveOptions({ out: "out", dnsNames: "", ip: "10.0.0.1" }).dnsNames).toEqual([]);
  });

  test("the Fluentd URL host is one the server certificate covers", () => {
    expect(fluentdHost(["fluentd.example.com", "localhost"], [])).toBe("localhost");
    expect(fluentdHost(["*.example.com", "fluentd.example.com"], [])).toBe("fluentd.example.com");
    expect(fluentdHost([], ["fd00::1"])).toBe("[fd00::1]");
  });

  test("quoting survives hostile values", () => {
    const nasty = `a'b\\c"d#{exit}\u007f\t`;
    expect(unquoteFluentd(fluentdString(nasty))).toBe(nasty);
    expect(parseToml(`k = ${tomlString(nasty)}`).k).toBe(nasty);
  });
});
