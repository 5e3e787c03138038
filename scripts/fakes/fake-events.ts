import { createHash } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";

/**
 * Deterministic audit log and session recordings for the fake Teleport. Events are computed from
 * their position, so a million-event log costs no memory: only live appends are stored (as times).
 * Field names, codes, `ei` and time formats follow Teleport (reference Part A.5 and Part C).
 */

export interface GoTime {
  seconds: number;
  nanos: number;
}

export interface FakeEvent {
  index: number;
  type: string;
  /** EventUnstructured.id: the uid, or the SHA-256 of the payload for events without one. */
  id: string;
  time: GoTime;
  /** `ei` */
  ei: number;
  json: JsonObject;
}

export interface EventLogOptions {
  seed?: number;
  events?: number;
  days?: number;
  /** Uploaded sessions (session.upload events), spread evenly over the log. */
  sessions?: number;
  /** First event time; defaults to `days` days before now. */
  start?: Date;
  clusterName?: string;
  /** print events per recording. */
  printsPerSession?: number;
  /** Gives the first recording this many bytes of print data, generated while streaming. */
  largeRecordingBytes?: number;
  /**
   * This many failed logins of one user (BURST_USER as BURST_LOGIN, same address) right after the
   * log, a few seconds apart and ending about now: what auto-locking should catch.
   */
  failedLoginBurst?: number;
  /** Late arrival: events searchable only some time after their timestamp (see `visibleAt`). */
  late?: LateArrival;
}

/**
 * How events reach the search index late, as with several Auth servers and batching backends.
 * Each event's delay is drawn from its index, so the same log is late the same way every run.
 */
export interface LateArrival {
  /** Shares of events (0..1) searchable `delayMs` after their time, e.g. 5% 30 s and 1% 5 min. */
  shares?: { share: number; delayMs: number }[];
  /** One Auth server of `servers` has its clock `behindMs` behind: its events are stamped that much too early. */
  clockBehind?: { servers: number; behindMs: number };
  /** The clock deciding what is searchable yet; Date.now by default (tests inject one). */
  now?: () => number;
}

export interface AppendedEvent {
  type: string;
  /** Merged over the generated ei, event, uid, code, time and cluster_name. */
  fields?: JsonObject;
  /** Event time; now by default, and never earlier than the last event. */
  at?: Date;
}

/** The fields of a failed `user.login` (code T1000W), as Teleport writes them. */
export function failedLoginFields(user: string, login: string): JsonObject {
  return { code: "T1000W", user, login, success: false, error: "invalid username, password or second factor", method: "local" };
}

const NS_PER_SEC = 1_000_000_000;
const DAY_NS = 86_400 * NS_PER_SEC;
/** Who the failed-login burst is about, and how far apart its attempts are. */
export const BURST_USER = "mallory";
export const BURST_LOGIN = "root";
const BURST_SPACING_NS = 2 * NS_PER_SEC;
/** `SessionUploadIndex = math.MaxInt32`: the `ei` of every session.upload. */
export const SESSION_UPLOAD_INDEX = 2147483647;
export const LARGE_PRINT_CHUNK = 32 * 1024;

/** Integer hash of a few numbers (splitmix-style), stable across runs. */
function hash(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

function uuid(seed: number, a: number, b: number): string {
  const hex = [1, 2, 3, 4].map((k) => hash(seed, a, b, k).toString(16).padStart(8, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Go's RFC3339Nano: fractional seconds with trailing zeros trimmed, none at all when zero. */
export function formatGoTime(t: GoTime): string {
  const base = new Date(t.seconds * 1000).toISOString().slice(0, 19);
  const frac = t.nanos === 0 ? "" : "." + String(t.nanos).padStart(9, "0").replace(/0+$/, "");
  return `${base}${frac}Z`;
}

export function goTimeToDate(t: GoTime): Date {
  return new Date(t.seconds * 1000 + Math.floor(t.nanos / 1e6));
}

function addNs(t: GoTime, ns: number): GoTime {
  const total = t.nanos + ns;
  const carry = Math.floor(total / NS_PER_SEC);
  return { seconds: t.seconds + carry, nanos: total - carry * NS_PER_SEC };
}

/** Whole milliseconds when possible, so most times end in zeros (trimmed), as real ones often do. */
function roundStep(ns: number): number {
  return ns >= 1e6 ? Math.floor(ns / 1e6) * 1e6 : Math.max(1, Math.floor(ns));
}

function sha256Hex(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

const USERS = ["alice", "bob", "carol", "dave", "erin", "mallory"];
const LOGINS = ["root", "ubuntu", "ec2-user", "admin"];
const HOSTS = ["web-1", "web-2", "db-1", "bastion", "build-7"];
const METHODS = ["local", "saml", "oidc", "github"];
const COMMANDS = ["ls -la", "systemctl status nginx", "cat /etc/hosts", "journalctl -u teleport", "df -h"];
const LINES = ["$ ls -la\r\n", "total 48\r\ndrwxr-xr-x  6 root root 4096 .\r\n", "$ uptime\r\n 10:14:02 up 42 days\r\n", "$ exit\r\nlogout\r\n"];

/** Weighted choice of the ordinary (non-upload) events. */
const MIX: [string, number][] = [
  ["user.login", 30],
  ["session.start", 12],
  ["session.end", 12],
  ["cert.create", 14],
  ["exec", 14],
  ["db.session.start", 8],
  ["access_request.create", 4],
  ["kube.request", 6],
];
const MIX_TOTAL = MIX.reduce((s, [, w]) => s + w, 0);

export class FakeEventLog {
  readonly seed: number;
  readonly baseCount: number;
  readonly sessions: number;
  readonly clusterName: string;
  readonly printsPerSession: number;
  readonly largeRecordingBytes: number;
  readonly failedLoginBurst: number;
  private readonly start: GoTime;
  private readonly stepNs: number;
  /** Times of live appends; their contents come from the generator like the rest. */
  private readonly appendedTimes: GoTime[] = [];
  private readonly late: LateArrival | undefined;
  /** Appends whose type and fields a test chose (see `appendEvent`), by log position. */
  private readonly chosen = new Map<number, AppendedEvent>();

  constructor(opts: EventLogOptions = {}) {
    this.seed = opts.seed ?? 1;
    this.baseCount = opts.events ?? 100;
    const days = opts.days ?? 3;
    this.sessions = Math.min(opts.sessions ?? Math.ceil(this.baseCount / 50), Math.floor(this.baseCount / 4));
    this.clusterName = opts.clusterName ?? "test-cluster";
    this.printsPerSession = opts.printsPerSession ?? 12;
    this.largeRecordingBytes = opts.largeRecordingBytes ?? 0;
    const startMs = opts.start?.getTime() ?? Math.floor(Date.now() / 1000) * 1000 - days * 86_400_000;
    this.start = { seconds: Math.floor(startMs / 1000), nanos: (startMs % 1000) * 1e6 };
    this.stepNs = roundStep((days * DAY_NS) / Math.max(this.baseCount, 1));
    this.failedLoginBurst = opts.failedLoginBurst ?? 0;
    this.late = opts.late;
    if (this.failedLoginBurst > 0) {
      // Stored like live appends (they are the newest events), never before the generated log ends.
      const burstStart = Math.floor(Date.now() / 1000) - (this.failedLoginBurst * BURST_SPACING_NS) / NS_PER_SEC;
      const last = this.baseCount > 0 ? this.timeAt(this.baseCount - 1) : this.start;
      const first = burstStart > last.seconds ? { seconds: burstStart, nanos: 0 } : addNs(last, NS_PER_SEC);
      for (let j = 0; j < this.failedLoginBurst; j++) this.appendedTimes.push(addNs(first, j * BURST_SPACING_NS));
    }
  }

  private inBurst(i: number): boolean {
    return i >= this.baseCount && i < this.baseCount + this.failedLoginBurst;
  }

  get count(): number {
    return this.baseCount + this.appendedTimes.length;
  }

  /** Appends events stamped `at` (now by default), never earlier than the last one. */
  append(n: number, at = new Date()): void {
    const last = this.count > 0 ? this.timeAt(this.count - 1) : this.start;
    let t: GoTime = { seconds: Math.floor(at.getTime() / 1000), nanos: (at.getTime() % 1000) * 1e6 };
    if (t.seconds < last.seconds || (t.seconds === last.seconds && t.nanos < last.nanos)) t = last;
    for (let i = 0; i < n; i++) this.appendedTimes.push(addNs(t, i * 1000));
  }

  /**
   * Appends one event of the caller's choosing (e.g. a failed login for a given user); the
   * generator still supplies uid, time, code and cluster unless `fields` overrides them.
   * Returns the event's id.
   */
  appendEvent(event: AppendedEvent): string {
    this.append(1, event.at);
    const i = this.count - 1;
    this.chosen.set(i, event);
    return this.eventAt(i).id;
  }

  /**
   * Non-decreasing with the index. Every third event shares the previous one's timestamp; some
   * groups get nanosecond jitter (less than a step, so order holds) and most keep round values.
   */
  timeAt(i: number): GoTime {
    if (i >= this.baseCount) return this.appendedTimes[i - this.baseCount]!;
    const group = i % 3 === 2 ? i - 1 : i;
    const h = hash(this.seed, group, 7);
    const jitter = h % 4 === 0 ? (h % Math.max(1, Math.floor(this.stepNs / 2))) : 0;
    return addNs(this.start, group * this.stepNs + jitter);
  }

  /**
   * How long after its timestamp event `i` becomes searchable (0: at once). Stamped times stay in
   * order while visibility does not: late events are inserted out of order.
   */
  lateByMs(i: number): number {
    const late = this.late;
    if (!late) return 0;
    let delay = 0;
    if (late.clockBehind && hash(this.seed, i, 0x5e4) % late.clockBehind.servers === 0) delay = late.clockBehind.behindMs;
    let r = (hash(this.seed, i, 0x1a7e) % 1_000_000) / 1_000_000;
    for (const { share, delayMs } of late.shares ?? []) {
      if (r < share) return Math.max(delay, delayMs);
      r -= share;
    }
    return delay;
  }

  /** Whether event `i` is searchable yet (always, without late arrival). */
  isVisible(i: number): boolean {
    if (!this.late) return true;
    const delay = this.lateByMs(i);
    return delay === 0 || goTimeToDate(this.timeAt(i)).getTime() + delay <= (this.late.now ?? Date.now)();
  }

  /** Index of the first event at or after `t` (binary search; times never decrease). */
  lowerBound(t: Date): number {
    const sec = Math.floor(t.getTime() / 1000);
    const nanos = (t.getTime() - sec * 1000) * 1e6;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.timeAt(mid);
      if (m.seconds < sec || (m.seconds === sec && m.nanos < nanos)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  uploadIndexOf(k: number): number {
    return Math.floor(((k + 1) * this.baseCount) / this.sessions) - 1;
  }

  /** Upload positions: session k's session.start, session.end and session.upload are consecutive. */
  private sessionAt(i: number): { k: number; role: "start" | "end" | "upload" } | undefined {
    if (this.sessions === 0 || i >= this.baseCount) return undefined;
    const k = Math.floor((i * this.sessions) / this.baseCount);
    const offset = this.uploadIndexOf(k) - i;
    if (offset === 0) return { k, role: "upload" };
    if (offset === 1) return { k, role: "end" };
    if (offset === 2) return { k, role: "start" };
    return undefined;
  }

  sessionId(k: number): string {
    return uuid(this.seed, k, 0x5e55);
  }

  /** Sessions whose recording is missing (recording disabled): NOT_FOUND on stream. */
  hasRecording(k: number): boolean {
    return k % 7 !== 6;
  }

  /** Built on first use: a scan per stream costs thousands of ids per call with thousands of sessions. */
  private sessionIndexes: Map<string, number> | undefined;

  sessionIndexOf(sid: string): number | undefined {
    if (!this.sessionIndexes) {
      this.sessionIndexes = new Map();
      for (let k = 0; k < this.sessions; k++) this.sessionIndexes.set(this.sessionId(k), k);
    }
    return this.sessionIndexes.get(sid);
  }

  typeAt(i: number): string {
    const chosen = this.chosen.get(i);
    if (chosen) return chosen.type;
    if (this.inBurst(i)) return "user.login";
    const s = this.sessionAt(i);
    if (s) return s.role === "upload" ? "session.upload" : `session.${s.role}`;
    let r = hash(this.seed, i, 1) % MIX_TOTAL;
    for (const [type, w] of MIX) {
      if (r < w) return type;
      r -= w;
    }
    return "exec";
  }

  eventAt(i: number): FakeEvent {
    const type = this.typeAt(i);
    const time = this.timeAt(i);
    const h = hash(this.seed, i, 2);
    const pick = <T>(xs: T[], salt: number) => xs[hash(h, salt) % xs.length]!;
    const uid = uuid(this.seed, i, 0x0e1d);
    const session = this.sessionAt(i);
    const sid = session ? this.sessionId(session.k) : uuid(this.seed, i, 0x51d);
    const burst = this.inBurst(i);
    const user = burst ? BURST_USER : pick(USERS, 1);
    const login = burst ? BURST_LOGIN : pick(LOGINS, 2);
    const host = pick(HOSTS, 3);
    const remote = burst ? "203.0.113.66:51515" : `10.0.${h % 250}.${(h >>> 8) % 250}:${40000 + (h % 20000)}`;
    const common = (code: string, ei = 0): JsonObject => ({ ei, event: type, uid, code, time: formatGoTime(time), cluster_name: this.clusterName });
    let json: JsonObject;
    const chosen = this.chosen.get(i);
    if (chosen) return { index: i, type, id: uid, time, ei: 0, json: { ...common("T0000I"), ...chosen.fields } };
    switch (type) {
      case "user.login": {
        const ok = !burst && h % 5 !== 0;
        json = ok
          ? { ...common("T1000I"), user, required_private_key_policy: "none", success: true, method: pick(METHODS, 4), user_agent: "tsh/17.0.0", "addr.remote": remote }
          : { ...common("T1000W"), user, login, success: false, error: "invalid username, password or second factor", method: "local", user_agent: "Mozilla/5.0", "addr.remote": remote };
        break;
      }
      case "session.start":
        json = {
          ...common("T2000I"), user, login, user_kind: 1, sid, namespace: "default", server_id: uuid(this.seed, h % 5, 0x5e7),
          server_hostname: host, server_labels: { env: "prod" }, "addr.remote": remote, proto: "ssh", size: "80:25",
          initial_command: [""], session_recording: "node", private_key_policy: "none",
        };
        break;
      case "session.end":
        json = {
          ...common("T2004I"), user, login, sid, namespace: "default", server_hostname: host, participants: [user],
          session_start: formatGoTime(addNs(time, -60 * NS_PER_SEC)), session_stop: formatGoTime(time), interactive: true, proto: "ssh",
        };
        break;
      case "session.upload":
        json = { ...common("T2005I", SESSION_UPLOAD_INDEX), sid, url: `s3://teleport-recordings/records/${sid}.tar` };
        break;
      case "cert.create":
        json = {
          ...common("TC000I"), cert_type: "user",
          identity: { user, roles: ["access", "editor"], logins: [login], expires: formatGoTime(addNs(time, 12 * 3600 * NS_PER_SEC)), route_to_cluster: this.clusterName, teleport_cluster: this.clusterName, client_ip: remote.split(":")[0]!, private_key_policy: "none" },
        };
        break;
      case "exec":
        json = { ...common("T3002I"), user, login, sid, server_hostname: host, command: pick(COMMANDS, 5), exitCode: "0", "addr.remote": remote, proto: "ssh" };
        break;
      case "db.session.start":
        json = { ...common("TDB00I"), user, sid, db_service: "postgres-prod", db_protocol: "postgres", db_uri: "db-1.internal:5432", db_user: login, db_name: "app", success: true };
        break;
      case "access_request.create":
        // Its own `id` (the request) is not the event id.
        json = { ...common("T5000I"), user, id: uuid(this.seed, i, 0xac), roles: ["admin"], state: "PENDING", reason: "on-call incident" };
        break;
      default:
        json = { ...common("T3009I"), user, kubernetes_cluster: "k8s-prod", verb: "GET", request_path: "/api/v1/namespaces/default/pods", response_code: 200 };
    }
    return { index: i, type, id: uid, time, ei: Number(json.ei), json };
  }

  /** The events of one recording from `startIndex` (inclusive), built as they are consumed. */
  *recording(k: number, startIndex = 0): Generator<FakeEvent> {
    const sid = this.sessionId(k);
    const end = this.timeAt(this.uploadIndexOf(k));
    const large = k === 0 && this.largeRecordingBytes > 0;
    const prints = large ? Math.ceil(this.largeRecordingBytes / LARGE_PRINT_CHUNK) : this.printsPerSession;
    const begin = addNs(end, -(prints + 3) * 10_000_000);
    const at = (ei: number) => addNs(begin, ei * 10_000_000);
    const meta = (ei: number, event: string, code: string, uidSalt: number): JsonObject => ({
      ei, event, uid: uuid(this.seed, k * 1_000_003 + uidSalt, 0x7ec), code, time: formatGoTime(at(ei)), cluster_name: this.clusterName,
    });
    const last = prints + 2;
    const big = large ? Buffer.alloc(LARGE_PRINT_CHUNK, "x") : undefined;
    let offset = 0;
    for (let ei = 0; ei <= last; ei++) {
      if (ei < startIndex) {
        if (ei >= 2 && ei < last) offset += big ? big.length : Buffer.byteLength(LINES[(ei + k) % LINES.length]!);
        continue;
      }
      let json: JsonObject;
      let type: string;
      if (ei === 0) {
        type = "session.start";
        json = { ...meta(0, type, "T2000I", 0), user: USERS[k % USERS.length]!, login: "root", sid, server_hostname: HOSTS[k % HOSTS.length]!, size: "80:25", proto: "ssh" };
      } else if (ei === 1) {
        type = "resize";
        json = { ...meta(1, type, "T2002I", 1), user: USERS[k % USERS.length]!, sid, size: "168:44" };
      } else if (ei === last) {
        type = "session.end";
        json = { ...meta(ei, type, "T2004I", 2), user: USERS[k % USERS.length]!, sid, interactive: true };
      } else {
        type = "print";
        const bytes = big ? big : Buffer.from(LINES[(ei + k) % LINES.length]!);
        // print events have no uid and no code; the server adds the raw bytes as base64 `data`.
        json = { ei, event: type, time: formatGoTime(at(ei)), cluster_name: this.clusterName, ci: ei - 2, bytes: bytes.length, ms: (ei - 2) * 10, offset, data: bytes.toString("base64") };
        offset += bytes.length;
      }
      const id = typeof json.uid === "string" ? json.uid : sha256Hex(JSON.stringify(json));
      yield { index: ei, type, id, time: at(ei), ei, json };
    }
  }
}
