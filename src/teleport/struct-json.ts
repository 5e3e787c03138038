import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

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
