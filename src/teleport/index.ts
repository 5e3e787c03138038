import type { TeleportConfig } from "../config/options.ts";
import { readFileSync } from "node:fs";
import { formatHostPort } from "../config/values.ts";
import { logger } from "../logger.ts";
import { identityExpiry } from "../observability/metrics.ts";
import { TeleportClient } from "./client.ts";
import { loadCredentials, parseIdentity, readIdentityText, type TeleportCredentials } from "./credentials.ts";
import { SwappableTransport } from "./transport.ts";
import type { TeleportSource } from "./types.ts";

export { loadCredentials } from "./credentials.ts";
export { alpnProtocols } from "./transport.ts";
export { KNOWN_EVENT_TYPES } from "./event-types.ts";
export * from "./types.ts";


/** A TeleportSource that can also be asked to re-read its identity file now. */
export interface TeleportSourceHandle extends TeleportSource {
  /** The credentials new calls use. */
  readonly credentials: TeleportCredentials;
  /** Re-reads the identity file; true when new credentials were taken into use. */
  reloadCredentials(): boolean;
}

/** Every set of credentials taken into use: its warnings logged, its expiry exported. */
function taken(creds: TeleportCredentials): void {
  for (const w of creds.warnings) logger.warn(w);
  identityExpiry.set(creds.notAfter.getTime() / 1000);
}

/**
 * The source for `config.teleport`. With `refreshEnabled`, the identity file is re-read every
 * `refreshInterval` (tbot / Machine ID renews it).
 */
export async function createTeleportSource(opts: TeleportConfig): Promise<TeleportSourceHandle> {
  const identityFile = opts.identity;
  const parse = (text: string) => parseIdentity(text, `teleport-identity ${identityFile}`);
  // One read: a reload compares against the very text the credentials in use came from, so a
  // rotation landing between two reads at start-up cannot go unnoticed.
  let lastText = identityFile ? readIdentityText(identityFile) : "";
  let creds = identityFile ? parse(lastText) : loadCredentials(opts);
  taken(creds);
  const transport = new SwappableTransport(
    { addr: opts.addr, tlsRouting: opts.tlsRouting, clusterName: opts.cluster },
    creds,
  );
  const client = new TeleportClient(transport, {
    addr: formatHostPort(opts.addr),
    caSetting: identityFile ? "teleport-identity" : "teleport-ca",
    get cluster() {
      return opts.cluster ?? creds.clusterName;
    },
  });

  const reloadCredentials = (): boolean => {
    if (!identityFile) return false;
    try {
      const text = readFileSync(identityFile, "utf8");
      if (text === lastText) return false;
      const fresh = parse(text);
      transport.swap(fresh);
      creds = fresh;
      lastText = text;
      taken(fresh);
      logger.info(`Reloaded the Teleport identity from ${identityFile}; valid until ${fresh.notAfter.toISOString()}`);
      return true;
    } catch (err) {
      logger.warn(`Failed to reload identity file from disk; keeping the current credentials: ${(err as Error).message}`);
      return false;
    }
  };

  const timer = opts.refreshEnabled && identityFile ? setInterval(reloadCredentials, opts.refreshInterval) : undefined;
  timer?.unref();

  return {
    get credentials() {
      return creds;
    },
    reloadCredentials,
    ping: (signal) => client.ping(signal),
    searchEvents: (q, signal) => client.searchEvents(q, signal),
    eventExportChunks: (date, signal) => client.eventExportChunks(date, signal),
    exportEvents: (q, signal) => client.exportEvents(q, signal),
    sessionEvents: (sid, startIndex, signal) => client.sessionEvents(sid, startIndex, signal),
    upsertLock: (lock, signal) => client.upsertLock(lock, signal),
    async close() {
      if (timer) clearInterval(timer);
      transport.close();
    },
  };
}
