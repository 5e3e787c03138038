import { expect, test } from "bun:test";
import { classifyStatus, parseRetryAfter } from "../../src/fluentd/status.ts";

test("Retry-After as seconds or an HTTP date, capped, and ignored when unreadable", () => {
  const now = Date.parse("2024-05-01T12:00:00Z");
  expect(parseRetryAfter("7", now)).toBe(7000);
  expect(parseRetryAfter("Wed, 01 May 2024 12:00:30 GMT", now)).toBe(30_000);
  expect(parseRetryAfter("Wed, 01 May 2024 11:00:00 GMT", now)).toBe(0);
  expect(parseRetryAfter("86400", now)).toBe(5 * 60_000);
  expect(parseRetryAfter("soon", now)).toBeUndefined();
  expect(parseRetryAfter(null, now)).toBeUndefined();
});

test("status classes", () => {
  expect([200, 201, 204].map(classifyStatus)).toEqual(["success", "success", "success"]);
  expect([408, 429, 500, 502, 503].map(classifyStatus)).toEqual(Array(5).fill("transient"));
  expect([400, 413, 422].map(classifyStatus)).toEqual(Array(3).fill("reject-records"));
  expect([401, 403, 404].map(classifyStatus)).toEqual(Array(3).fill("receiver-refuses"));
});
