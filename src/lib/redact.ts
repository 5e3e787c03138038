/**
 * Replaces any user:password in a URL. The one redaction for every URL that is printed or stored
 * (logs, errors, the dead-letter table): a Fluentd URL may carry basic-auth credentials.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === "" && u.password === "") return url;
    u.username = "***";
    u.password = "";
    return u.toString();
  } catch {
    return "<invalid URL>";
  }
}
