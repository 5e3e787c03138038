/**
 * Where the generated Fluentd listens and what the generated TOML posts to; one place so the two
 * files cannot drift apart (the Go templates posted to /events.log but matched `test.log`).
 */
export const FLUENTD_PORT = 8888;
/** in_forward's default port. */
export const FORWARD_PORT = 24224;
/** in_http turns the URL path into the tag: POST /events.log is tag `events.log`. */
export const EVENTS_TAG = "events.log";
/** The handler appends `.<session-id>.log`, giving tags `session.<sid>.log`. */
export const SESSION_PATH = "session";
export const SESSION_TAG_PATTERN = `${SESSION_PATH}.*.log`;

/** A host the server certificate is valid for: localhost when listed, else the first exact name or IP. */
export function fluentdHost(dnsNames: string[], ips: string[]): string {
  if (dnsNames.includes("localhost")) return "localhost";
  const host = dnsNames.find((name) => !name.startsWith("*.")) ?? ips[0] ?? "localhost";
  return host.includes(":") ? `[${host}]` : host;
}

/** in_forward takes the tag from the frame, and our forward sink puts the URL path there: the same tags. */
export function fluentdUrls(host: string, protocol: "http" | "forward" = "http"): { url: string; sessionUrl: string } {
  const base = protocol === "forward" ? `forward+tls://${host}:${FORWARD_PORT}` : `https://${host}:${FLUENTD_PORT}`;
  return { url: `${base}/${EVENTS_TAG}`, sessionUrl: `${base}/${SESSION_PATH}` };
}
