import { describe, expect, test } from "bun:test";
import {
  ValueError,
  formatDuration,
  parseBool,
  parseDuration,
  parseHeader,
  parseHostPort,
  parseInteger,
  parseSize,
  parseTime,
} from "../../src/config/values.ts";

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

test("headers", () => {
  expect(parseHeader("Authorization: Bearer a:b")).toEqual(["Authorization", "Bearer a:b"]);
  expect(parseHeader("X-Empty:")).toEqual(["X-Empty", ""]);
  for (const bad of ["no colon", ": value", "Bad Name: v"]) expect(() => parseHeader(bad)).toThrow("Name: value");
});
