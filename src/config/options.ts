/**
 * The ONE table of settings. Every flag, environment variable, TOML key, default, help line, README
 * row and `Config` field comes from here; later features add rows here and nowhere else.
 *
 * Defaults are written as a user would type them ("1m", "1MiB", "print,desktop.recording") and go
 * through the same parser as user input, so the README shows exactly what is accepted.
 */

import type { Duration, FluentdUrl, Header, HostPort } from "./values.ts";

export type OptionKind =
  | "string"
  | "bool"
  | "int"
  | "duration"
  | "durations"
  | "list"
  | "time"
  | "file"
  | "url"
  | "enum"
  | "size"
  | "hostport"
  | "listen"
  | "headers";

export type OptionGroup = "global" | "teleport" | "fluentd" | "ingest" | "locking" | "observability";

export interface OptionDef {
  /** Kebab-case flag name without dashes; also the source of the camelCase `Config` field. */
  flag: string;
  short?: string;
  kind: OptionKind;
  /** Primary name first, then aliases that are still accepted (the Go tool's `FDWRD_` typos). */
  env: readonly string[];
  /** Canonical dotted TOML path; the loader also accepts the Go resolver's spellings (see toml.ts). */
  toml: string | null;
  default?: string;
  required?: boolean;
  /** Allowed values of an `enum`. */
  values?: readonly string[];
  /** Smallest allowed value of an `int`, `size` or `duration` (milliseconds). */
  min?: number;
  /** Largest allowed value of an `int` or `duration` (milliseconds), with the reason shown when it is exceeded. */
  max?: { value: number; why: string };
  /** List items are split on this (default ","); the CLI form never splits when it is a newline. */
  separator?: string;
  /** Never printed: not in logs, not in errors. */
  secret?: boolean;
  group: OptionGroup;
  help: string;
}

function option<const O extends OptionDef>(o: O): O {
  return o;
}

/** Longer than this, a JavaScript timer fires at once instead (it takes a 32-bit delay). */
const TIMER_MAX = { value: 2_147_483_647, why: "a longer interval cannot be timed" } as const;

export const OPTIONS = {
  // --- global: accepted by every command ---
  config: option({
    flag: "config",
    short: "c",
    kind: "file",
    env: ["FDFWD_CONFIG"],
    toml: null,
    group: "global",
    help: "Path to the TOML configuration file",
  }),
  debug: option({
    flag: "debug",
    short: "d",
    kind: "bool",
    env: ["FDFWD_DEBUG"],
    toml: "debug",
    default: "false",
    group: "global",
    help: "Log at debug level and show stack traces of errors",
  }),
  logFormat: option({
    flag: "log-format",
    kind: "enum",
    values: ["text", "json"] as const,
    env: ["FDFWD_LOG_FORMAT"],
    toml: "log-format",
    default: "text",
    group: "global",
    help: "Log output on stderr: human-readable text, or one JSON object per line",
  }),

  // --- teleport ---
  teleportAddr: option({
    flag: "teleport-addr",
    kind: "hostport",
    env: ["FDFWD_TELEPORT_ADDR"],
    toml: "teleport.addr",
    default: "localhost:3025",
    group: "teleport",
    help: "Teleport Auth or Proxy address as host:port",
  }),
  teleportIdentity: option({
    flag: "teleport-identity",
    kind: "file",
    env: ["FDFWD_TELEPORT_IDENTITY"],
    toml: "teleport.identity",
    group: "teleport",
    help: "Teleport identity file (tctl auth sign --format=file); excludes teleport-cert/key/ca",
  }),
  teleportRefreshEnabled: option({
    flag: "teleport-refresh-enabled",
    kind: "bool",
    env: ["FDFWD_TELEPORT_REFRESH_ENABLED"],
    toml: "teleport.refresh.enabled",
    default: "false",
    group: "teleport",
    help: "Re-read the identity file periodically so renewed credentials are picked up",
  }),
  teleportRefreshInterval: option({
    flag: "teleport-refresh-interval",
    kind: "duration",
    env: ["FDFWD_TELEPORT_REFRESH_INTERVAL"],
    toml: "teleport.refresh.interval",
    default: "1m",
    min: 1,
    group: "teleport",
    help: "How often to re-read the identity file when refresh is enabled",
  }),
  teleportCa: option({
    flag: "teleport-ca",
    kind: "file",
    env: ["FDFWD_TELEPORT_CA"],
    toml: "teleport.ca",
    group: "teleport",
    help: "Teleport CA certificate (PEM); use with teleport-cert and teleport-key",
  }),
  teleportCert: option({
    flag: "teleport-cert",
    kind: "file",
    env: ["FDFWD_TELEPORT_CERT", "FDWRD_TELEPORT_CERT"],
    toml: "teleport.cert",
    group: "teleport",
    help: "Teleport client certificate (PEM); use with teleport-key and teleport-ca",
  }),
  teleportKey: option({
    flag: "teleport-key",
    kind: "file",
    env: ["FDFWD_TELEPORT_KEY"],
    toml: "teleport.key",
    group: "teleport",
    help: "Teleport client private key (PEM); use with teleport-cert and teleport-ca",
  }),
  teleportCluster: option({
    flag: "teleport-cluster",
    kind: "string",
    env: ["FDFWD_TELEPORT_CLUSTER"],
    toml: "teleport.cluster",
    group: "teleport",
    help: "Cluster name for Proxy TLS routing (default: read from the identity's CA)",
  }),
  teleportTlsRouting: option({
    flag: "teleport-tls-routing",
    kind: "enum",
    values: ["auto", "on", "off"] as const,
    env: ["FDFWD_TELEPORT_TLS_ROUTING"],
    toml: "teleport.tls-routing",
    default: "auto",
    group: "teleport",
    help: "Connect through the Proxy's TLS routing (ALPN); auto = on for ports 443 and 3080",
  }),

  // --- fluentd ---
  fluentdUrl: option({
    flag: "fluentd-url",
    kind: "url",
    env: ["FDFWD_FLUENTD_URL"],
    toml: "forward.fluentd.url",
    required: true,
    group: "fluentd",
    help: "Fluentd URL that receives audit events: https://host:port/tag (in_http) or forward+tls://host:port/tag (in_forward)",
  }),
  fluentdSessionUrl: option({
    flag: "fluentd-session-url",
    kind: "url",
    env: ["FDFWD_FLUENTD_SESSION_URL"],
    toml: "forward.fluentd.session-url",
    required: true,
    group: "fluentd",
    help: "Fluentd URL prefix for session recordings; <sid>.log is appended",
  }),
  fluentdCa: option({
    flag: "fluentd-ca",
    kind: "file",
    env: ["FDFWD_FLUENTD_CA", "FDWRD_FLUENTD_CA"],
    toml: "forward.fluentd.ca",
    group: "fluentd",
    help: "CA certificate (PEM) that signed Fluentd's server certificate (default: system roots)",
  }),
  fluentdCert: option({
    flag: "fluentd-cert",
    kind: "file",
    env: ["FDFWD_FLUENTD_CERT", "FDWRD_FLUENTD_CERT"],
    toml: "forward.fluentd.cert",
    group: "fluentd",
    help: "Client certificate (PEM) presented to Fluentd",
  }),
  fluentdKey: option({
    flag: "fluentd-key",
    kind: "file",
    env: ["FDFWD_FLUENTD_KEY", "FDWRD_FLUENTD_KEY"],
    toml: "forward.fluentd.key",
    group: "fluentd",
    help: "Client private key (PEM) for fluentd-cert",
  }),
  fluentdKeyPassphrase: option({
    flag: "fluentd-key-passphrase",
    kind: "string",
    env: ["FDFWD_FLUENTD_KEY_PASSPHRASE"],
    toml: "forward.fluentd.key-passphrase",
    secret: true,
    group: "fluentd",
    help: "Passphrase of an encrypted fluentd-key (prefer fluentd-key-passphrase-file)",
  }),
  fluentdKeyPassphraseFile: option({
    flag: "fluentd-key-passphrase-file",
    kind: "file",
    env: ["FDFWD_FLUENTD_KEY_PASSPHRASE_FILE"],
    toml: "forward.fluentd.key-passphrase-file",
    group: "fluentd",
    help: "File holding the passphrase of an encrypted fluentd-key",
  }),
  fluentdAllowInsecure: option({
    flag: "fluentd-allow-insecure",
    kind: "bool",
    env: ["FDFWD_FLUENTD_ALLOW_INSECURE"],
    toml: "forward.fluentd.allow-insecure",
    default: "false",
    group: "fluentd",
    help: "Permit http:// and forward:// URLs and no client certificate; for test setups only",
  }),
  fluentdMaxConnections: option({
    flag: "fluentd-max-connections",
    kind: "int",
    env: ["FDFWD_MAX_CONNECTIONS", "FDWRD_MAX_CONNECTIONS"],
    toml: "forward.fluentd.max-connections",
    default: "0",
    min: 0,
    group: "fluentd",
    help: "Most concurrent connections to Fluentd; 0 = 2 × concurrency",
  }),
  fluentdBatchSize: option({
    flag: "fluentd-batch-size",
    kind: "int",
    env: ["FDFWD_FLUENTD_BATCH_SIZE"],
    toml: "forward.fluentd.batch-size",
    default: "100",
    min: 1,
    group: "fluentd",
    help: "Most events sent to Fluentd in one request",
  }),
  fluentdInflightBatches: option({
    flag: "fluentd-inflight-batches",
    kind: "int",
    env: ["FDFWD_FLUENTD_INFLIGHT_BATCHES"],
    toml: "forward.fluentd.inflight-batches",
    default: "4",
    min: 1,
    max: { value: 64, why: "a crash re-sends up to this many batches, and each one in flight is held in memory" },
    group: "fluentd",
    help: "Audit batches sent to Fluentd before the first is acknowledged (committed in order); 1 = one at a time, strict order over in_http",
  }),
  fluentdBatchBytes: option({
    flag: "fluentd-batch-bytes",
    kind: "size",
    env: ["FDFWD_FLUENTD_BATCH_BYTES"],
    toml: "forward.fluentd.batch-bytes",
    default: "1MiB",
    min: 1,
    group: "fluentd",
    help: "Most bytes sent to Fluentd in one request (bytes, or 512KiB / 1MiB forms)",
  }),
  fluentdTimeout: option({
    flag: "fluentd-timeout",
    kind: "duration",
    env: ["FDFWD_FLUENTD_TIMEOUT"],
    toml: "forward.fluentd.timeout",
    default: "30s",
    min: 1,
    group: "fluentd",
    help: "Time limit for one request to Fluentd",
  }),
  fluentdHeader: option({
    flag: "fluentd-header",
    kind: "headers",
    separator: "\n",
    env: ["FDFWD_FLUENTD_HEADER"],
    toml: "forward.fluentd.header",
    secret: true,
    group: "fluentd",
    help: 'Extra HTTP header "Name: value" sent to Fluentd; repeatable (env: one per line)',
  }),
  fluentdCompress: option({
    flag: "fluentd-compress",
    kind: "enum",
    values: ["none", "gzip"] as const,
    env: ["FDFWD_FLUENTD_COMPRESS"],
    toml: "forward.fluentd.compress",
    default: "none",
    group: "fluentd",
    help: "gzip: compress what is sent (in_http: Content-Encoding: gzip; forward: CompressedPackedForward)",
  }),
  fluentdSharedKey: option({
    flag: "fluentd-shared-key",
    kind: "string",
    env: ["FDFWD_FLUENTD_SHARED_KEY"],
    toml: "forward.fluentd.shared-key",
    secret: true,
    group: "fluentd",
    help: "Shared key of in_forward's <security> section (forward URLs only); enables the HELO/PING/PONG handshake",
  }),
  fluentdUsername: option({
    flag: "fluentd-username",
    kind: "string",
    env: ["FDFWD_FLUENTD_USERNAME"],
    toml: "forward.fluentd.username",
    group: "fluentd",
    help: "User name for in_forward's user_auth (with fluentd-shared-key)",
  }),
  fluentdPassword: option({
    flag: "fluentd-password",
    kind: "string",
    env: ["FDFWD_FLUENTD_PASSWORD"],
    toml: "forward.fluentd.password",
    secret: true,
    group: "fluentd",
    help: "Password for in_forward's user_auth (with fluentd-shared-key)",
  }),

  // --- ingest ---
  storage: option({
    flag: "storage",
    kind: "string",
    env: ["FDFWD_STORAGE"],
    toml: "storage",
    required: true,
    group: "ingest",
    help: "Directory where export progress is kept",
  }),
  batch: option({
    flag: "batch",
    kind: "int",
    env: ["FDFWD_BATCH"],
    toml: "batch",
    default: "20",
    min: 1,
    max: { value: 10_000, why: "Teleport refuses pages larger than 10000 events" },
    group: "ingest",
    help: "Events fetched from Teleport per request",
  }),
  types: option({
    flag: "types",
    kind: "list",
    env: ["FDFWD_TYPES"],
    toml: "types",
    group: "ingest",
    help: "Export only these event types (default: all)",
  }),
  skipEventTypes: option({
    flag: "skip-event-types",
    kind: "list",
    env: ["FDFWD_SKIP_EVENT_TYPES"],
    toml: "skip-event-types",
    group: "ingest",
    help: "Event types not exported",
  }),
  skipSessionTypes: option({
    flag: "skip-session-types",
    kind: "list",
    env: ["FDFWD_SKIP_SESSION_TYPES"],
    toml: "skip-session-types",
    default: "print,desktop.recording",
    group: "ingest",
    help: "Session recording event types not exported",
  }),
  startTime: option({
    flag: "start-time",
    kind: "time",
    env: ["FDFWD_START_TIME"],
    toml: "start-time",
    group: "ingest",
    help: "Export events from this RFC3339 time on (first run only)",
  }),
  timeout: option({
    flag: "timeout",
    kind: "duration",
    env: ["FDFWD_TIMEOUT"],
    toml: "timeout",
    default: "5s",
    min: 1,
    group: "ingest",
    help: "Wait between polls once the export has caught up",
  }),
  cursor: option({
    flag: "cursor",
    kind: "string",
    env: ["FDFWD_CURSOR"],
    toml: "cursor",
    group: "ingest",
    help: "Id of the last event known to have reached Fluentd; the export resumes after it",
  }),
  concurrency: option({
    flag: "concurrency",
    kind: "int",
    env: ["FDFWD_CONCURRENCY"],
    toml: "concurrency",
    default: "5",
    min: 1,
    group: "ingest",
    help: "Event chunks and session recordings processed in parallel",
  }),
  windowSize: option({
    flag: "window-size",
    kind: "duration",
    env: ["FDFWD_WINDOW_SIZE"],
    toml: "window-size",
    default: "24h",
    min: 1,
    group: "ingest",
    help: "Time window of one search request (legacy search API)",
  }),
  dryRun: option({
    flag: "dry-run",
    kind: "bool",
    env: ["FDFWD_DRY_RUN"],
    toml: "dry-run",
    default: "false",
    group: "ingest",
    help: "Fetch events but send nothing to Fluentd and save no progress",
  }),
  exitOnLastEvent: option({
    flag: "exit-on-last-event",
    kind: "bool",
    env: ["FDFWD_EXIT_ON_LAST_EVENT"],
    toml: "exit-on-last-event",
    default: "false",
    group: "ingest",
    help: "Exit once the newest event has been exported instead of polling",
  }),
  exitTimeout: option({
    flag: "exit-timeout",
    kind: "duration",
    env: ["FDFWD_EXIT_TIMEOUT"],
    toml: "exit-timeout",
    default: "5m",
    min: 0,
    group: "ingest",
    help: "With exit-on-last-event: exit 1 after this long without progress (a persistent failure); 0 = never",
  }),

  lateEventDelays: option({
    flag: "late-event-delays",
    kind: "durations",
    env: ["FDFWD_LATE_EVENT_DELAYS"],
    toml: "late-event-delays",
    default: "1m,10m",
    min: 1,
    group: "ingest",
    help: "Read every slice of the audit log again after each of these delays and deliver events that became searchable late (legacy search API; empty: off)",
  }),
  digestRetentionDays: option({
    flag: "digest-retention-days",
    kind: "int",
    env: ["FDFWD_DIGEST_RETENTION_DAYS"],
    toml: "digest-retention-days",
    default: "400",
    min: 1,
    group: "ingest",
    help: "Days the per-hour delivery digests (what verify compares) are kept",
  }),

  // --- locking ---
  lockEnabled: option({
    flag: "lock-enabled",
    kind: "bool",
    env: ["FDFWD_LOCKING_ENABLED"],
    toml: "lock-enabled",
    default: "false",
    group: "locking",
    help: "Lock users with too many failed logins",
  }),
  lockFailedAttemptsCount: option({
    flag: "lock-failed-attempts-count",
    kind: "int",
    env: ["FDFWD_LOCKING_FAILED_ATTEMPTS"],
    toml: "lock-failed-attempts-count",
    default: "3",
    min: 1,
    group: "locking",
    help: "Failed logins within lock-period that lock a user",
  }),
  lockPeriod: option({
    flag: "lock-period",
    kind: "duration",
    env: ["FDFWD_LOCKING_PERIOD"],
    toml: "lock-period",
    default: "1m",
    min: 1,
    group: "locking",
    help: "Window in which failed logins are counted",
  }),
  lockFor: option({
    flag: "lock-for",
    kind: "duration",
    env: ["FDFWD_LOCKING_FOR"],
    toml: "lock-for",
    default: "0s",
    min: 0,
    group: "locking",
    help: "How long a lock lasts; 0 = never expires",
  }),

  // --- observability ---
  metricsAddr: option({
    flag: "metrics-addr",
    kind: "listen",
    env: ["FDFWD_METRICS_ADDR"],
    toml: "metrics-addr",
    group: "observability",
    help: "Serve /metrics, /healthz and /readyz on this host:port, e.g. 127.0.0.1:9464; :9464 means loopback (default: off)",
  }),
  readyFailurePeriod: option({
    flag: "ready-failure-period",
    kind: "duration",
    env: ["FDFWD_READY_FAILURE_PERIOD"],
    toml: "ready-failure-period",
    default: "2m",
    min: 1,
    group: "observability",
    help: "/readyz fails once Fluentd deliveries have failed for longer than this",
  }),
  progressInterval: option({
    flag: "progress-interval",
    kind: "duration",
    env: ["FDFWD_PROGRESS_INTERVAL"],
    toml: "progress-interval",
    default: "1m",
    min: 0,
    max: TIMER_MAX,
    group: "observability",
    help: "Log a progress: line this often, with the delivery rate over that interval; 0 = never",
  }),
  filterWarningInterval: option({
    flag: "filter-warning-interval",
    kind: "duration",
    env: ["FDFWD_FILTER_WARNING_INTERVAL"],
    toml: "filter-warning-interval",
    default: "1h",
    min: 0,
    max: TIMER_MAX,
    group: "observability",
    help: "Warn this often when types, skip-event-types or skip-session-types dropped every event read since the last look; 0 = never",
  }),
} as const;

export type OptionKey = keyof typeof OPTIONS;

interface KindValues {
  string: string;
  file: string;
  url: FluentdUrl;
  bool: boolean;
  int: number;
  size: number;
  duration: Duration;
  durations: Duration[];
  list: string[];
  time: Date;
  enum: string;
  hostport: HostPort;
  listen: HostPort;
  headers: Header[];
}

type Def<K extends OptionKey> = (typeof OPTIONS)[K];
type ValueOf<O extends OptionDef> = O extends { kind: "enum"; values: readonly (infer E)[] } ? E : KindValues[O["kind"]];

/** Lists default to [] and bools to false, so they are never undefined. */
type AlwaysSet<O extends OptionDef> = O extends { default: string }
  ? true
  : O extends { required: true }
    ? true
    : O["kind"] extends "list" | "bool" | "headers"
      ? true
      : false;

/** The prefix a group's flags share, dropped from the field name: `lock-period` → `locking.period`. */
export const GROUP_PREFIX: Record<OptionGroup, string> = {
  global: "",
  teleport: "teleport",
  fluentd: "fluentd",
  ingest: "",
  locking: "lock",
  observability: "",
};

type Prefix = { global: ""; teleport: "teleport"; fluentd: "fluentd"; ingest: ""; locking: "lock"; observability: "" };
type FieldName<K extends string, P extends string> = P extends "" ? K : K extends `${P}${infer R}` ? Uncapitalize<R> : K;
type KeysOf<G extends OptionGroup> = { [K in OptionKey]: Def<K>["group"] extends G ? K : never }[OptionKey];

type GroupConfig<G extends OptionGroup> = {
  -readonly [K in KeysOf<G> as AlwaysSet<Def<K>> extends true ? FieldName<K, Prefix[G]> : never]: ValueOf<Def<K>>;
} & {
  -readonly [K in KeysOf<G> as AlwaysSet<Def<K>> extends true ? never : FieldName<K, Prefix[G]>]?: ValueOf<Def<K>>;
};

export type GlobalConfig = GroupConfig<"global">;
export type TeleportConfig = GroupConfig<"teleport">;
/** `maxConnections` is already resolved (0 became 2 × concurrency). */
export type FluentdConfig = GroupConfig<"fluentd">;
export type IngestConfig = GroupConfig<"ingest">;
export type LockingConfig = GroupConfig<"locking">;
export type ObservabilityConfig = GroupConfig<"observability">;

/**
 * The effective configuration, in the shape of its groups, every value parsed once into its type:
 * durations in milliseconds, sizes in bytes, times as Date, addresses as HostPort, Fluentd URLs as
 * FluentdUrl, headers as Header[], file paths absolute. The rest of the code takes these as they are.
 */
export interface Config {
  global: GlobalConfig;
  teleport: TeleportConfig;
  fluentd: FluentdConfig;
  ingest: IngestConfig;
  locking: LockingConfig;
  observability: ObservabilityConfig;
}

/** Where an option lives in `Config`: its group and its field name there. */
export function fieldOf(key: OptionKey): { group: OptionGroup; field: string } {
  const group = OPTIONS[key].group;
  const prefix = GROUP_PREFIX[group];
  const field = prefix && key.startsWith(prefix) ? key.charAt(prefix.length).toLowerCase() + key.slice(prefix.length + 1) : key;
  return { group, field };
}

/** The value of one option in a `Config`, for code that walks the options table (describe, docs). */
export function settingOf(config: Config, key: OptionKey): unknown {
  const { group, field } = fieldOf(key);
  return (config[group] as Record<string, unknown>)[field];
}

export const OPTION_LIST: ReadonlyArray<readonly [OptionKey, OptionDef]> = Object.entries(OPTIONS) as [OptionKey, OptionDef][];

export const GROUP_TITLES: Record<OptionGroup, string> = {
  global: "Global (every command)",
  teleport: "Teleport connection",
  fluentd: "Fluentd",
  ingest: "Ingest",
  locking: "Auto-locking",
  observability: "Observability",
};

export function optionsInGroups(groups: readonly OptionGroup[]): Array<readonly [OptionKey, OptionDef]> {
  return OPTION_LIST.filter(([, o]) => groups.includes(o.group));
}
