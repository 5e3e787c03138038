import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { RawEventUnstructured, RawExportEventUnstructured } from "../gen/teleport_event_handler/v1/raw_events_pb.ts";

/**
 * Decodes an encoded google.protobuf.Struct straight into the JSON object it stands for, the way
 * the protobuf JSON mapping unwraps it. Written by hand because the generic runtime goes field by
 * field through reflection, building a Struct, a map entry and a Value message per key before
 * unwrapping them, and that was the largest CPU cost of exporting an event.
 *
 * Wire format: Struct { map<string, Value> fields = 1 } (entries: key = 1, value = 2);
 * Value { null = 1 | number (double) = 2 | string = 3 | bool = 4 | Struct = 5 | ListValue = 6 };
 * ListValue { repeated Value values = 1 }.
 */
/**
 * How deeply Structs and lists may nest: what Go's encoding/json (and so Teleport's own event
 * marshalling) accepts. Deeper means a hostile or broken payload, and would exhaust the stack of
 * this recursive decoder and of JSON.stringify after it.
 */
export const MAX_STRUCT_DEPTH = 10_000;

export class StructTooDeepError extends Error {
  constructor() {
    super(`the event's JSON nests deeper than ${MAX_STRUCT_DEPTH} levels, more than Teleport itself accepts`);
    this.name = "StructTooDeepError";
  }
}

export function decodeStruct(bytes: Uint8Array): JsonObject {
  const r = new Reader(bytes);
  return r.struct(bytes.length);
}

/**
 * Decodes a RawEventUnstructured (EventUnstructured on the wire) the way fromBinary does, without
 * the runtime's reflection: type, id, time and index, with the Struct left as bytes for
 * decodeStruct. A recording is mostly print events that are skipped by type, so for them this
 * envelope is all the decoding there is.
 */
export function decodeRawEvent(bytes: Uint8Array): RawEventUnstructured {
  return new Reader(bytes).rawEvent();
}

/** RawExportEventUnstructured: the event as above, and the cursor that resumes after it. */
export function decodeRawExportEvent(bytes: Uint8Array): RawExportEventUnstructured {
  return new Reader(bytes).rawExportEvent();
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder("utf-8", { fatal: false });

class Reader {
  pos = 0;
  private depth = 0;
  private readonly view: DataView;
  private readonly text: Buffer;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error("truncated Struct: varint past the end");
      const b = this.buf[this.pos++]!;
      // Lengths and enums fit in 53 bits; multiply rather than shift past 31 bits.
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new Error("malformed Struct: varint too long");
    }
  }

  /** A signed 64-bit varint (negative ones take ten bytes, two's complement). */
  private int64(): bigint {
    const start = this.pos;
    const n = this.varint();
    if (this.pos - start < 8) return BigInt(n); // under 2^49: exact as a number
    let v = 0n;
    for (let i = this.pos - 1; i >= start; i--) v = (v << 7n) | BigInt(this.buf[i]! & 0x7f);
    return BigInt.asIntN(64, v);
  }

  rawExportEvent(): RawExportEventUnstructured {
    const out: RawExportEventUnstructured = { $typeName: "teleport_event_handler.v1.RawExportEventUnstructured", cursor: "" };
    while (this.pos < this.buf.length) {
      const tag = this.varint();
      if (tag === 0x0a) {
        const end = this.delimited();
        out.event = this.rawEvent(end);
      } else if (tag === 0x12) out.cursor = this.string(this.delimited());
      else this.skip(tag & 7);
    }
    if (this.pos !== this.buf.length) throw new Error("truncated event: field past the end");
    return out;
  }

  rawEvent(end = this.buf.length): RawEventUnstructured {
    const out: RawEventUnstructured = { $typeName: "teleport_event_handler.v1.RawEventUnstructured", type: "", id: "", index: 0n, unstructured: EMPTY };
    while (this.pos < end) {
      const tag = this.varint();
      switch (tag) {
        case 0x0a:
          out.type = this.string(this.delimited());
          break;
        case 0x12:
          out.id = this.string(this.delimited());
          break;
        case 0x1a: {
          const timeEnd = this.delimited();
          const time = { $typeName: "google.protobuf.Timestamp" as const, seconds: 0n, nanos: 0 };
          while (this.pos < timeEnd) {
            const t = this.varint();
            if (t === 0x08) time.seconds = this.int64();
            else if (t === 0x10) time.nanos = Number(BigInt.asIntN(32, BigInt(this.varint())));
            else this.skip(t & 7);
          }
          this.pos = timeEnd;
          out.time = time;
          break;
        }
        case 0x20:
          out.index = this.int64();
          break;
        case 0x2a: {
          const fieldEnd = this.delimited();
          out.unstructured = this.buf.subarray(this.pos, fieldEnd);
          this.pos = fieldEnd;
          break;
        }
        default:
          this.skip(tag & 7);
      }
    }
    if (this.pos !== end) throw new Error("truncated event: field past the end");
    return out;
  }

  /** The end offset of the length-delimited field that starts here. */
  private delimited(): number {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.buf.length) throw new Error("truncated Struct: field past the end");
    return end;
  }

  private string(end: number): string {
    const { buf } = this;
    const start = this.pos;
    this.pos = end;
    for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return utf8.decode(buf.subarray(start, end));
    // ASCII (keys and most values): one native call makes a flat string. Building it a character
    // at a time made ropes that JSON.stringify then had to flatten, at 5x the cost of the decode.
    return this.text.toString("latin1", start, end);
  }

  private skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.pos = this.delimited();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw new Error(`malformed Struct: unsupported wire type ${wireType}`);
    }
  }

  /** Entered once per nested Struct or list; see MAX_STRUCT_DEPTH. */
  private enter(): void {
    if (++this.depth > MAX_STRUCT_DEPTH) throw new StructTooDeepError();
  }

  struct(end: number): JsonObject {
    this.enter();
    const out: JsonObject = {};
    while (this.pos < end) {
      const tag = this.varint();
      if (tag !== 0x0a) {
        this.skip(tag & 7);
        continue;
      }
      const entryEnd = this.delimited();
      let key = "";
      let value: JsonValue = null;
      while (this.pos < entryEnd) {
        const t = this.varint();
        if (t === 0x0a) key = this.string(this.delimited());
        else if (t === 0x12) value = this.value(this.delimited());
        else this.skip(t & 7);
      }
      // A plain assignment of "__proto__" would replace the object's prototype instead.
      if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
    }
    this.depth--;
    return out;
  }

  private list(end: number): JsonValue[] {
    this.enter();
    const out: JsonValue[] = [];
    while (this.pos < end) {
      const tag = this.varint();
      if (tag === 0x0a) out.push(this.value(this.delimited()));
      else this.skip(tag & 7);
    }
    this.depth--;
    return out;
  }

  /** A Value; one without a kind (never sent by Teleport) reads as null. */
  private value(end: number): JsonValue {
    let v: JsonValue = null;
    while (this.pos < end) {
      const tag = this.varint();
      switch (tag) {
        case 0x08: // null_value
          this.varint();
          v = null;
          break;
        case 0x11: // number_value
          v = this.view.getFloat64(this.pos, true);
          this.pos += 8;
          break;
        case 0x1a: // string_value
          v = this.string(this.delimited());
          break;
        case 0x20: // bool_value
          v = this.varint() !== 0;
          break;
        case 0x2a: // struct_value
          v = this.struct(this.delimited());
          break;
        case 0x32: // list_value
          v = this.list(this.delimited());
          break;
        default:
          this.skip(tag & 7);
      }
    }
    this.pos = end;
    return v;
  }
}
