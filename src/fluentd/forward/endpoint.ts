/** Where a forward URL points: `forward+tls://HOST:PORT/TAG` or, for test setups, `forward://`. */
export interface ForwardEndpoint {
  tls: boolean;
  host: string;
  port: number;
  /** The URL path without its leading "/", "/" turned into ".": the tag in_http gives the same path. */
  tag: string;
}

export const DEFAULT_FORWARD_PORT = 24224;

export function isForwardUrl(url: string): boolean {
  return /^forward(\+tls)?:\/\//i.test(url);
}

/** Parses a forward URL; throws a plain Error with what is wrong (the caller names the setting). */
export function parseForwardUrl(url: string): ForwardEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error("is not a URL; expected forward+tls://host:port/tag");
  }
  const scheme = u.protocol.toLowerCase();
  if (scheme !== "forward:" && scheme !== "forward+tls:") throw new Error("must start with forward+tls:// or forward://");
  if (u.hostname === "") throw new Error("has no host; expected forward+tls://host:port/tag");
  const tag = decodeURIComponent(u.pathname).replace(/^\/+/, "").replaceAll("/", ".");
  if (tag === "") throw new Error("has no tag; the path is the Fluentd tag, e.g. forward+tls://host:24224/teleport.events");
  return {
    tls: scheme === "forward+tls:",
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port === "" ? DEFAULT_FORWARD_PORT : Number(u.port),
    tag,
  };
}
