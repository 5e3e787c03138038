import { Decoder, Encoder, ExtensionCodec } from "@msgpack/msgpack";

/**
 * Fluentd's EventTime: msgpack extension type 0, 8 bytes, seconds then nanoseconds as big-endian
 * uint32 (Forward Protocol Specification v1, "EventTime Ext Format"). Both our sink and the test
 * receiver read and write it through `forwardCodec`, the one registration of the type.
 */
export class EventTime {
  constructor(
    readonly seconds: number,
    readonly nanos: number,
  ) {}

  /** RFC3339 with all nine fraction digits, e.g. 2024-05-01T12:34:56.789123456Z. */
  toString(): string {
    const base = new Date(this.seconds * 1000).toISOString().slice(0, 19);
    return `${base}.${String(this.nanos).padStart(9, "0")}Z`;
  }
}

const EVENT_TIME_TYPE = 0;
const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9})\d*)?(Z|[+-]\d\d:\d\d)$/i;

/**
 * The EventTime of an event's `time` field with its nanoseconds (Teleport writes up to nine
 * fraction digits, which a JavaScript Date would cut to milliseconds). Undefined when the field is
 * not an RFC3339 time: the caller then uses the current time, as Fluentd does for a zero time.
 */
export function eventTimeOf(time: unknown): EventTime | undefined {
  if (typeof time !== "string") return undefined;
  return utcTime(time) ?? parsedTime(time);
}

/** Any RFC3339 form: zones, a space for the T. Exported as the reference the fast path is tested against. */
export function parsedTime(time: string): EventTime | undefined {
  const m = RFC3339.exec(time.replace(" ", "T"));
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms) || ms < 0 || ms / 1000 > 0xffffffff) return undefined;
  return new EventTime(ms / 1000, Number((m[2] ?? "").padEnd(9, "0")));
}

/** The day of the last time read, and when it starts: events come in time order, so one parse serves a day's events. */
let lastDay = "";
let lastDayMs = NaN;

/**
 * The form Teleport writes (`2024-05-01T12:34:56.789123Z`) read digit by digit, the date parsed
 * once per day: the regular expression, string building and Date.parse per event cost ~4% of the
 * forward sink's CPU. Null for anything else, which parsedTime reads as it always did.
 */
function utcTime(time: string): EventTime | undefined | null {
  const n = time.length;
  if (n < 20 || time.charCodeAt(n - 1) !== 0x5a /* Z */ || time.charCodeAt(10) !== 0x54 /* T */) return null;
  if (time.charCodeAt(13) !== 0x3a || time.charCodeAt(16) !== 0x3a) return null;
  const hh = digits(time, 11, 13);
  const mm = digits(time, 14, 16);
  const ss = digits(time, 17, 19);
  if (hh < 0 || mm < 0 || ss < 0 || hh > 23 || mm > 59 || ss > 59) return null;
  let nanos = 0;
  if (n > 20) {
    if (time.charCodeAt(19) !== 0x2e /* . */) return null;
    if (digits(time, 20, n - 1) < 0) return null;
    const kept = Math.min(9, n - 21);
    if (kept === 0) return null;
    nanos = digits(time, 20, 20 + kept) * 10 ** (9 - kept);
  } else if (n !== 20) return null;
  const day = time.slice(0, 10);
  if (day !== lastDay) {
    lastDayMs = /^\d{4}-\d\d-\d\d$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : NaN;
    lastDay = day;
  }
  if (Number.isNaN(lastDayMs)) return null;
  const ms = lastDayMs + ((hh * 60 + mm) * 60 + ss) * 1000;
  if (ms < 0 || ms / 1000 > 0xffffffff) return undefined;
  return new EventTime(ms / 1000, nanos);
}

/** The decimal number time[from, to) spells; -1 when a character is not a digit. */
function digits(time: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = time.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * The EventTime's ten msgpack bytes (fixext 8, type 0, seconds, nanoseconds) written where an
 * entry starts, as the forward sink writes one per record: what the codec below encodes, without
 * the library's extension lookup per record.
 */
export function writeEventTime(t: EventTime, out: Uint8Array, at: number): void {
  out[at] = 0xd7;
  out[at + 1] = EVENT_TIME_TYPE;
  writeUint32(out, at + 2, t.seconds);
  writeUint32(out, at + 6, t.nanos);
}

/** Big-endian, by hand: a DataView per entry cost more than the rest of writing its time. */
function writeUint32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

export const EVENT_TIME_BYTES = 10;

export function eventTimeNow(): EventTime {
  const ms = Date.now();
  return new EventTime(Math.floor(ms / 1000), (ms % 1000) * 1_000_000);
}

export const forwardCodec = new ExtensionCodec();
forwardCodec.register({
  type: EVENT_TIME_TYPE,
  encode(value: unknown): Uint8Array | null {
    if (!(value instanceof EventTime)) return null;
    const bytes = new Uint8Array(8);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, value.seconds);
    view.setUint32(4, value.nanos);
    return bytes;
  },
  decode(data: Uint8Array): EventTime {
    if (data.byteLength !== 8) throw new RangeError(`EventTime must be 8 bytes, got ${data.byteLength}`);
    const view = new DataView(data.buffer, data.byteOffset, 8);
    return new EventTime(view.getUint32(0), view.getUint32(4));
  },
});

/** Encoders keep a reusable buffer; one per module that encodes is enough (JavaScript is single-threaded). */
export function forwardEncoder(options: { maxDepth?: number } = {}): Encoder {
  return new Encoder({ extensionCodec: forwardCodec, ignoreUndefined: true, ...options });
}

export function forwardDecoder(): Decoder {
  return new Decoder({ extensionCodec: forwardCodec });
}
