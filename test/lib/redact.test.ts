import { expect, test } from "bun:test";
import { redactUrl, unredactUrl } from "../../src/lib/redact.ts";
import { quoteUntrusted } from "../../src/lib/untrusted.ts";

test("a URL's user:password is redacted, and a URL without them is left as written", () => {
  expect(redactUrl("https://alice:s3cret@fluentd.example.com:8888/events.log")).toBe("https://***@fluentd.example.com:8888/events.log");
  expect(redactUrl("https://token@fluentd.example.com/x")).toBe("https://***@fluentd.example.com/x");
  expect(redactUrl("https://Fluentd.example.com:443/x")).toBe("https://Fluentd.example.com:443/x");
  expect(redactUrl("not a url with s3cret")).toBe("<invalid URL>");
});

test("a stored, redacted URL maps back to the configured one, session URLs through their base", () => {
  const events = "https://alice:s3cret@fluentd.example.com:8888/events.log";
  const session = "https://alice:s3cret@fluentd.example.com:8888/session";
  const sid = "0b6e2f4e-1b7c-4a7e-9d7a-3d1f2c3b4a5e";
  const configured = [events, session];
  expect(unredactUrl(redactUrl(events), configured)).toBe(events);
  expect(unredactUrl(redactUrl(`${session}.${sid}.log`), configured)).toBe(`${session}.${sid}.log`);
  expect(unredactUrl("https://***@elsewhere.example.com/events.log", configured)).toBeUndefined();
});

test("untrusted text is quoted with control, non-ASCII and bidi characters escaped, and cut", () => {
  expect(quoteUntrusted('a\nb"\\')).toBe('"a\\u000ab\\"\\\\"');
  expect(quoteUntrusted("\u202eevil")).toBe('"\\u202eevil"');
  expect(quoteUntrusted("x".repeat(100), 10)).toBe(`"${"x".repeat(10)}"… (100 characters)`);
});
