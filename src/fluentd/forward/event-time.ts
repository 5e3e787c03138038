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
  const m = RFC3339.exec(time.replace(" ", "T"));
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms) || ms < 0 || ms / 1000 > 0xffffffff) return undefined;
  return new EventTime(ms / 1000, Number((m[2] ?? "").padEnd(9, "0")));
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
