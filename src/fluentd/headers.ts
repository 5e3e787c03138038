import { FluentdSettingError } from "./tls.ts";

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// The transport owns these; letting a user set them would corrupt the request framing.
const RESERVED = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"]);

/**
 * Parses repeatable `fluentd-header "Name: value"` settings. Errors name the header but never show
 * a value: these carry tokens such as Splunk HEC's.
 */
export function parseHeaders(entries: string[]): Array<[string, string]> {
  return entries.map((entry, i) => {
    const colon = entry.indexOf(":");
    const name = colon < 0 ? "" : entry.slice(0, colon).trim();
    if (colon < 0 || !TOKEN.test(name)) {
      throw new FluentdSettingError("fluentd-header", `entry #${i + 1} is not "Name: value" with a valid header name`);
    }
    if (RESERVED.has(name.toLowerCase())) {
      throw new FluentdSettingError("fluentd-header", `${name} is set by the HTTP client and cannot be overridden`);
    }
    const value = entry.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) throw new FluentdSettingError("fluentd-header", `the value of ${name} contains a line break`);
    return [name, value];
  });
}
