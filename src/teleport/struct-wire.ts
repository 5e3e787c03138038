/**
 * Reading the protobuf wire format of events by hand, shared by the two renderings of an event's
 * google.protobuf.Struct: the JSON object (struct-json.ts) and msgpack (struct-msgpack.ts).
 *
 * Struct { map<string, Value> fields = 1 } (entries: key = 1, value = 2);
 * Value { null = 1 | number (double) = 2 | string = 3 | bool = 4 | Struct = 5 | ListValue = 6 };
 * ListValue { repeated Value values = 1 }.
 */

/**
 * How deeply Structs and lists may nest: what Go's encoding/json (and so Teleport's own event
 * marshalling) accepts. Deeper means a hostile or broken payload, and would exhaust the stack of
 * the recursive readers (and of JSON.stringify after them).
 */
export const MAX_STRUCT_DEPTH = 10_000;

/**
 * Up to this depth the readers recurse (four frames per level of {a: [...]} nesting, far inside
 * the call stack); deeper payloads are read with an explicit stack. A process whose decoder the
 * JIT had optimized overflowed its stack at about 7,700 levels, below MAX_STRUCT_DEPTH.
 */
export const RECURSION_LIMIT = 1_000;

/** A nesting limit, and whose limit it is (for the message). */
export interface DepthLimit {
  levels: number;
  of: string;
}

export const TELEPORT_DEPTH: DepthLimit = { levels: MAX_STRUCT_DEPTH, of: "Teleport itself" };

export class StructTooDeepError extends Error {
  constructor(readonly limit: DepthLimit = TELEPORT_DEPTH) {
    super(`the event's JSON nests deeper than ${limit.levels} levels, more than ${limit.of} accepts`);
    this.name = "StructTooDeepError";
  }
}

/** Field tags (field number << 3 | wire type) of Struct, its map entries, Value and ListValue. */
export const TAG = {
  /** Struct.fields, a map entry's key, ListValue.values: all field 1, length-delimited. */
  first: 0x0a,
  /** A map entry's value. */
  entryValue: 0x12,
  null: 0x08,
  number: 0x11,
  string: 0x1a,
  bool: 0x20,
  struct: 0x2a,
  list: 0x32,
} as const;

const utf8 = new TextDecoder("utf-8", { fatal: false });
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class WireReader {
  pos = 0;
  protected depth = 0;
  private dataView: DataView | undefined;
  /** Made on first use: the msgpack writer reads no text. */
  private textView: Buffer | undefined;

  constructor(
    protected readonly buf: Uint8Array,
    private readonly limit: DepthLimit = TELEPORT_DEPTH,
  ) {}

  /** A little-endian double (protobuf's), without a DataView per payload on the usual hosts. */
  protected float64(at: number): number {
    if (at + 8 > this.buf.length) throw new Error("truncated Struct: number past the end");
    if (!LITTLE_ENDIAN) return (this.dataView ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)).getFloat64(at, true);
    for (let i = 0; i < 8; i++) F64_BYTES[i] = this.buf[at + i]!;
    return F64[0]!;
  }

  private get text(): Buffer {
    return (this.textView ??= Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  protected varint(): number {
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
  protected int64(): bigint {
    const start = this.pos;
    const n = this.varint();
    if (this.pos - start < 8) return BigInt(n); // under 2^49: exact as a number
    let v = 0n;
    for (let i = this.pos - 1; i >= start; i--) v = (v << 7n) | BigInt(this.buf[i]! & 0x7f);
    return BigInt.asIntN(64, v);
  }

  /** The end offset of the length-delimited field that starts here. */
  protected delimited(): number {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.buf.length) throw new Error("truncated Struct: field past the end");
    return end;
  }

  protected string(end: number): string {
    const { buf } = this;
    const start = this.pos;
    this.pos = end;
    for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return utf8.decode(buf.subarray(start, end));
    // ASCII (keys and most values): one native call makes a flat string. Building it a character
    // at a time made ropes that JSON.stringify then had to flatten, at 5x the cost of the decode.
    return this.text.toString("latin1", start, end);
  }

  protected skip(wireType: number): void {
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

  /**
   * Skips to the next length-delimited field 1 before `end` (a Struct's entries, a list's values)
   * and returns its end, with `pos` at its start; -1 when there is none left.
   */
  protected nextEntry(end: number): number {
    while (this.pos < end) {
      const tag = this.varint();
      if (tag === TAG.first) return this.delimited();
      this.skip(tag & 7);
    }
    return -1;
  }

  /** Where the last `entry` found its key and value (-1: absent). */
  protected keyAt = -1;
  protected keyEnd = -1;
  protected valueAt = -1;
  protected valueEnd = -1;

  /**
   * Finds a map entry's key and value, which may come in either order or be missing (the key is
   * then "", the value null); the last of a repeated field wins. Leaves `pos` at `end`.
   */
  protected entry(end: number): void {
    this.keyAt = this.keyEnd = this.valueAt = this.valueEnd = -1;
    while (this.pos < end) {
      const t = this.varint();
      if (t !== TAG.first && t !== TAG.entryValue) {
        this.skip(t & 7);
        continue;
      }
      const fieldEnd = this.delimited();
      if (t === TAG.first) {
        this.keyAt = this.pos;
        this.keyEnd = fieldEnd;
      } else {
        this.valueAt = this.pos;
        this.valueEnd = fieldEnd;
      }
      this.pos = fieldEnd;
    }
  }

  /** Entered once per nested Struct or list; see MAX_STRUCT_DEPTH. */
  protected enter(): void {
    if (++this.depth > this.limit.levels) throw new StructTooDeepError(this.limit);
  }

  protected leave(): void {
    this.depth--;
  }
}

/**
 * How many levels a Struct nests (the Struct itself is level 1), walking it as decodeStruct does
 * and building nothing; beyond MAX_STRUCT_DEPTH it throws StructTooDeepError.
 */
export function structDepth(bytes: Uint8Array): number {
  return new DepthScan(bytes).run(bytes.length);
}

/**
 * Every level below the Struct opens with a length-delimited field (a tag and a length, at least
 * two bytes), so a payload this short cannot nest deeper than `levels`: most events need no walk.
 */
export function mayNestBeyond(bytes: Uint8Array, levels: number): boolean {
  return bytes.length >= 2 * levels;
}

const enum Walk {
  Struct,
  Entry,
  Value,
  List,
}

/**
 * decodeStruct's walk (every kind of every Value is entered) with nothing built, and with an
 * explicit stack: it is what finds out whether the recursive readers may be used.
 */
class DepthScan extends WireReader {
  run(end: number): number {
    const ends = [end];
    const walks = [Walk.Struct];
    this.enter();
    let deepest = this.depth;
    while (ends.length > 0) {
      const top = ends.length - 1;
      if (this.pos >= ends[top]!) {
        this.pos = ends.pop()!;
        const done = walks.pop();
        if (done === Walk.Struct || done === Walk.List) this.leave();
        continue;
      }
      const tag = this.varint();
      const walk = walks[top];
      let inner: Walk | undefined;
      if (walk === Walk.Struct && tag === TAG.first) inner = Walk.Entry;
      else if (walk === Walk.Entry && tag === TAG.entryValue) inner = Walk.Value;
      else if (walk === Walk.Value && tag === TAG.struct) inner = Walk.Struct;
      else if (walk === Walk.Value && tag === TAG.list) inner = Walk.List;
      else if (walk === Walk.List && tag === TAG.first) inner = Walk.Value;
      if (inner === undefined) {
        this.skip(tag & 7);
        continue;
      }
      ends.push(this.delimited());
      walks.push(inner);
      if (inner === Walk.Struct || inner === Walk.List) {
        this.enter();
        deepest = Math.max(deepest, this.depth);
      }
    }
    return deepest;
  }
}
