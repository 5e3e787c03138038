import type { DeadLetter, SinkRecord } from "../fluentd/types.ts";
import { redactUrl } from "../lib/redact.ts";
import { quoteUntrusted } from "../lib/untrusted.ts";
import { type AuditEvent, StructTooDeepError } from "../teleport/types.ts";

export const SESSION_UPLOAD = "session.upload";

/**
 * The body is the event exactly as Teleport sent it; the id travels alongside for reports only.
 * Each rendering is made when a sink first asks for it: the in_http sink reads the JSON body, the
 * forward sink the msgpack one, and neither pays for the other.
 */
export function toRecord(e: AuditEvent): SinkRecord {
  let body: string | undefined;
  return {
    id: e.id,
    get body() {
      return (body ??= JSON.stringify(e.json));
    },
    packed: e.msgpack
      ? (maxDepth, headroom) => {
          try {
            return e.msgpack!({ levels: maxDepth, of: "the receiver" }, headroom);
          } catch (err) {
            if (err instanceof StructTooDeepError) return "too-deep";
            throw err;
          }
        }
      : undefined,
  };
}

export function sessionIdOf(e: AuditEvent): string | undefined {
  const sid = e.json.sid;
  return typeof sid === "string" && sid !== "" ? sid : undefined;
}

/**
 * What Teleport generates for a session id (a UUID, `session.NewID`). The id goes into the
 * recording's URL, so anything else (`../../events`, `x?a=1`, `@host/x`, a newline) could send the
 * recording, the client certificate and the headers somewhere else: such ids are never exported.
 */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isSessionId(sid: string): boolean {
  return SESSION_ID.test(sid);
}

/** The session recording URL of one session, as the Go tool builds it; only for a valid id. */
export function sessionUrl(base: string, sid: string): string {
  if (!isSessionId(sid)) throw new Error(`refusing to build a recording URL from session id ${quoteUntrusted(sid)}: not a UUID`);
  return `${base}.${sid}.log`;
}

/**
 * An event the source could not read safely (`invalid`): never sent, dead-lettered with the reason.
 * Its body names the event, so a `dead-letters retry` still tells the SIEM that it existed.
 */
export function unreadableLetter(e: AuditEvent, url: string): DeadLetter {
  const body = JSON.stringify({ uid: e.id, event: e.type, time: e.time.toISOString(), teleport_event_handler_error: e.invalid });
  return { record: { id: e.id, body }, url: redactUrl(url), status: 0, reason: `unreadable from Teleport: ${e.invalid}` };
}
