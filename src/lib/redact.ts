/**
 * The one redaction of a URL. A Fluentd URL may carry `user:password@`; anything printed, logged
 * or stored (start-up lines, warnings, dry-run lines, the dead_letters.url column) goes through
 * here, so a credential has exactly one way out: the request itself.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not a URL at all: it may still hold a credential, so show nothing of it.
    return "<invalid URL>";
  }
  if (u.username === "" && u.password === "") return url;
  u.username = "***";
  u.password = "";
  return u.toString();
}

/**
 * The configured URL a redacted one stands for: stored dead letters keep the redacted form, and a
 * resend needs the credentials back. `configured` are the URLs as the operator set them; a session
 * URL (`<base>.<sid>.log`) maps through its base. Undefined when no configured URL matches.
 */
export function unredactUrl(shown: string, configured: readonly string[]): string | undefined {
  for (const url of configured) {
    const display = redactUrl(url);
    if (shown === display) return url;
    if (shown.startsWith(`${display}.`)) return url + shown.slice(display.length);
  }
  return undefined;
}
