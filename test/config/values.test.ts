import { describe, expect, test } from "bun:test";
import {
  ValueError,
  parseBool,
  parseDuration,
  parseHeader,
  parseHostPort,
  parseInteger,
  parseSize,
  parseTime,
  parseFluentdUrl,
} from "../../src/config/values.ts";
import { formatDuration } from "../../src/lib/duration.ts";

describe("Go durations", () => {
  test.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["1m30s", 90_000],
    ["24h", 86_400_000],
    ["1.5h", 5_400_000],
    ["0", 0],
    ["0s", 0],
    ["2h45m", 9_900_000],
  ])("%s = %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  test.each(["10", "", "ten seconds", "-5s", "5 s", "1d", "s"])("%p is rejected", (text) => {
    expect(() => parseDuration(text)).toThrow(ValueError);
  });

  test("renders back in Go style", () => {
    expect(formatDuration(90_000)).toBe("1m30s");
    expect(formatDuration(86_400_000)).toBe("24h");
    expect(formatDuration(500)).toBe("500ms");
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(180_669_000)).toBe("50h11m9s");
    expect(formatDuration(130_400)).toBe("2m10s");
    expect(formatDuration(1_500)).toBe("1.5s");
  });
});

describe("sizes", () => {
  test.each([
    ["1048576", 1_048_576],
    ["512KiB", 524_288],
    ["1MiB", 1_048_576],
    ["1mib", 1_048_576],
    ["1MB", 1_000_000],
    ["2GiB", 2 * 1024 ** 3],
  ])("%s = %d bytes", (text, bytes) => expect(parseSize(text)).toBe(bytes));

  test.each(["1 MiBs", "MiB", "-1", "1TiB"])("%p is rejected", (text) => expect(() => parseSize(text)).toThrow(ValueError));
});

test("integers and booleans", () => {
  expect(parseInteger("20")).toBe(20);
  expect(() => parseInteger("2.5")).toThrow("whole number");
  expect(() => parseInteger("twenty")).toThrow("whole number");
  expect(parseBool("TRUE")).toBe(true);
  expect(parseBool("0")).toBe(false);
  expect(() => parseBool("maybe")).toThrow('"true" or "false"');
});

test("RFC3339 times are truncated to whole seconds", () => {
  expect(parseTime("2024-01-31T15:04:05.987Z").toISOString()).toBe("2024-01-31T15:04:05.000Z");
  expect(parseTime("2024-01-31T17:04:05+02:00").toISOString()).toBe("2024-01-31T15:04:05.000Z");
  for (const bad of ["2024-01-31", "2024-01-31T15:04:05", "yesterday", "2024-13-31T15:04:05Z"]) {
    expect(() => parseTime(bad)).toThrow("RFC3339");
  }
});

test("host:port", () => {
  expect(parseHostPort("localhost:3025")).toEqual({ host: "localhost", port: 3025 });
  expect(parseHostPort("[::1]:443")).toEqual({ host: "::1", port: 443 });
  for (const bad of ["localhost", "localhost:", ":3025", "host:99999", "https://host:443"]) {
    expect(() => parseHostPort(bad)).toThrow("host:port");
  }
});

test("listen addresses: the host may be left out and then means loopback; port 0 picks one", () => {
  expect(parseHostPort(":9464", { listen: true })).toEqual({ host: "127.0.0.1", port: 9464 });
  expect(parseHostPort("0.0.0.0:0", { listen: true })).toEqual({ host: "0.0.0.0", port: 0 });
  expect(() => parseHostPort("9464", { listen: true })).toThrow("host:port");
});

test("headers follow RFC 9110, and no message repeats the entry (it may be a token)", () => {
  expect(parseHeader("Authorization: Bearer a:b")).toEqual({ name: "Authorization", value: "Bearer a:b" });
  expect(parseHeader("X-Empty:")).toEqual({ name: "X-Empty", value: "" });
  expect(parseHeader("X-Tab: a\tb")).toEqual({ name: "X-Tab", value: "a\tb" });
  const cases = ["s3cr3t-no-colon", ": s3cr3t", "Bad Name: s3cr3t", "X-Bell: s3cr3t\x07", "X-Del: s3cr3t\x7f", "X-Nl: s3cr3t\nX-Other: 1", "Host: s3cr3t"];
  for (const bad of cases) {
    let message = "";
    try {
      parseHeader(bad);
    } catch (err) {
      expect(err).toBeInstanceOf(ValueError);
      message = (err as Error).message;
    }
    expect(message, bad).not.toBe("");
    expect(message).not.toContain("s3cr3t");
  }
});

describe("Fluentd URLs", () => {
  test("the path is the tag, as in_http derives it; the scheme picks protocol and TLS", () => {
    expect(parseFluentdUrl("https://f.example:8888/teleport/audit")).toMatchObject({
      protocol: "http", tls: true, host: "f.example", port: 8888, tag: "teleport.audit",
    });
    expect(parseFluentdUrl("http://f.example/a.log")).toMatchObject({ protocol: "http", tls: false, port: 80, tag: "a.log" });
    expect(parseFluentdUrl("forward+tls://[::1]:24224/audit")).toMatchObject({ protocol: "forward", tls: true, host: "::1", port: 24224, tag: "audit" });
    expect(parseFluentdUrl("forward://f.example/audit")).toMatchObject({ protocol: "forward", tls: false, port: 24224 });
  });

  test("credentials stay in href and never reach display", () => {
    const u = parseFluentdUrl("https://user:pa55@f.example:8888/a.log");
    expect(u.href).toContain("user:pa55@");
    expect(u.display).not.toContain("pa55");
    expect(u.display).not.toContain("user");
  });

  test("a URL without a tag path is refused; one trailing slash is dropped with a warning", () => {
    for (const bad of ["https://f.example:8888", "https://f.example:8888/", "https://f.example/a//b", "ftp://f.example/a", "not a url"]) {
      expect(() => parseFluentdUrl(bad), bad).toThrow(ValueError);
    }
    const warnings: string[] = [];
    const u = parseFluentdUrl("https://f.example:8888/session/", (w) => warnings.push(w));
    expect(u.tag).toBe("session");
    expect(u.href).toBe("https://f.example:8888/session");
    expect(warnings).toHaveLength(1);
  });
});

test("dates that do not exist are refused rather than rolled over", () => {
  expect(() => parseTime("2026-02-30T00:00:00Z")).toThrow("not a date");
  expect(() => parseTime("2026-04-31T00:00:00Z")).toThrow("not a date");
  expect(() => parseTime("2026-01-01T24:00:00Z")).toThrow("time of day");
  expect(parseTime("2024-02-29T00:00:00Z").toISOString()).toBe("2024-02-29T00:00:00.000Z");
});
