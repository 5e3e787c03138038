import type { LockKey } from "../state/index.ts";
import type { AuditEvent } from "../teleport/types.ts";

export const LOCK_MESSAGE = "User is locked due to too many failed login attempts";

/**
 * The user and OS login of a failed login (`user.login` with `success: false`). Counting per user
 * and login, not per login as the Go tool does: web and SSO failures have an empty login, and
 * keying on it alone would make unrelated users share one counter. Without a user there is
 * nobody to lock.
 */
export function failedLoginOf(event: AuditEvent): LockKey | undefined {
  if (event.type !== "user.login" || event.json.success !== false) return undefined;
  const user = typeof event.json.user === "string" ? event.json.user : "";
  const login = typeof event.json.login === "string" ? event.json.login : "";
  return user ? { user, login } : undefined;
}

/** The Go tool's lock name, so a lock it placed is updated rather than doubled. */
export function lockName(key: LockKey): string {
  return `event-handler-auto-lock-${key.user}-${key.login}`;
}
