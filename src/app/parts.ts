import type { Config } from "../config/options.ts";
import { createFluentdSink, type FluentdSink } from "../fluentd/index.ts";
import { createTeleportSource, type TeleportSourceHandle } from "../teleport/index.ts";

/** The Teleport source as the configuration describes it. */
export function teleportSourceFrom(config: Config): Promise<TeleportSourceHandle> {
  return createTeleportSource({
    addr: config.teleportAddr,
    identityFile: config.teleportIdentity,
    certFile: config.teleportCert,
    keyFile: config.teleportKey,
    caFile: config.teleportCa,
    refreshEnabled: config.teleportRefreshEnabled,
    refreshIntervalMs: config.teleportRefreshInterval,
    clusterName: config.teleportCluster,
    tlsRouting: config.teleportTlsRouting,
  });
}

/** The Fluentd sink as the configuration describes it; every key file is checked here, at start-up. */
export function fluentdSinkFrom(config: Config): Promise<FluentdSink> {
  return createFluentdSink({
    ca: config.fluentdCa,
    cert: config.fluentdCert,
    key: config.fluentdKey,
    passphrase: config.fluentdKeyPassphrase,
    passphraseFile: config.fluentdKeyPassphraseFile,
    allowInsecure: config.fluentdAllowInsecure,
    urls: [
      { setting: "fluentd-url", url: config.fluentdUrl },
      { setting: "fluentd-session-url", url: config.fluentdSessionUrl },
    ],
    maxConnections: config.fluentdMaxConnections,
    batchSize: config.fluentdBatchSize,
    batchBytes: config.fluentdBatchBytes,
    timeoutMs: config.fluentdTimeout,
    headers: config.fluentdHeader,
    compression: config.fluentdCompress,
    sharedKey: config.fluentdSharedKey,
    username: config.fluentdUsername,
    password: config.fluentdPassword,
  });
}
