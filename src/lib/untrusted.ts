/**
 * Text from Teleport or the network shown in a log line: quoted, with every character outside
 * printable ASCII escaped (a newline would forge a log line, a bidi control would disguise one),
 * and cut to `max` characters so a hostile value cannot flood the log.
 */
export function quoteUntrusted(text: string, max = 80): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const escaped = cut.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === "\\" ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  return `"${escaped}"${cut.length < text.length ? `… (${text.length} characters)` : ""}`;
}
