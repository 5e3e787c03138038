import { isUtf8 } from "node:buffer";
import { type DepthLimit, RECURSION_LIMIT, TAG, WireReader } from "./struct-wire.ts";

/**
 * An event's google.protobuf.Struct written straight as msgpack, for Fluentd's forward protocol:
 * the very bytes @msgpack/msgpack writes for the object decodeStruct returns, without building
 * that object. The library encodes JavaScript values; getting here through them means decoding
 * every key and value into strings and objects only to encode them again, which measured about a
 * quarter of the handler's CPU per event over forward. The library stays the reference
 * (test/teleport/struct-msgpack.test.ts holds the bytes equal) and writes everything else of the
 * protocol: frames, EventTime, the handshake.
 *
 * Where the JSON object and this differ, Fluentd still stores the same record: keys keep their
 * wire order (a JavaScript object lists integer-like keys first), and a key the Struct repeats
 * (Teleport's encoder never writes one) is written twice, so the receiver's last one wins, as in
 * the object. A number that is not finite is nil, as JSON.stringify writes it for in_http.
 */
export interface PackedStruct {
  /** The msgpack map, after `headroom` bytes left free for the caller's prefix. */
  map: Uint8Array;
  /** The top-level `time` field, when it is a string: the forward entry's EventTime comes from it. */
  time: string | undefined;
}

/**
 * `limit`: the receiver's own nesting limit, far below Teleport's (Fluentd's msgpack unpacker keeps
 * 128 containers on its stack); deeper throws StructTooDeepError naming it. It also keeps this
 * recursion well inside the call stack.
 */
export function structToMsgpack(bytes: Uint8Array, limit: DepthLimit, headroom = 0): PackedStruct {
  if (limit.levels > RECURSION_LIMIT) throw new RangeError(`a msgpack nesting limit of ${limit.levels} is beyond the recursion limit of ${RECURSION_LIMIT}`);
  const packer = new Packer(bytes, limit, headroom);
  packer.struct(bytes.length, true);
  return { map: packer.output(), time: packer.time };
}


/** The four bytes at `at` spell "time". */
const isTimeKey = (buf: Uint8Array, at: number) => buf[at] === 0x74 && buf[at + 1] === 0x69 && buf[at + 2] === 0x6d && buf[at + 3] === 0x65;
/** Where events are written; JavaScript runs one transcoding at a time. */
let scratch = new Uint8Array(64 * 1024);
let scratchView = new DataView(scratch.buffer);

/** At least `bytes`, keeping what was written. */
function grow(bytes: number): void {
  const grown = new Uint8Array(Math.max(bytes, scratch.length * 2));
  grown.set(scratch);
  scratch = grown;
  scratchView = new DataView(grown.buffer);
}
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

class Packer extends WireReader {
  time: string | undefined;
  private out: Uint8Array;
  private outView: DataView;
  private o = 0;

  constructor(buf: Uint8Array, limit: DepthLimit, headroom: number) {
    super(buf, limit);
    // msgpack is smaller than the Struct encoding but for the odd header: the shared scratch buffer
    // at the Struct's size fits all but the odd event, and the result is one copy out of it.
    if (scratch.length < headroom + buf.length + 16) grow(headroom + buf.length + 16);
    this.out = scratch;
    this.outView = scratchView;
    this.o = headroom;
  }

  output(): Uint8Array {
    return this.out.slice(0, this.o);
  }

  struct(end: number, top = false): void {
    this.enter();
    this.header(this.count(end), 0x80, 0xde, 0xdf);
    for (let entryEnd = this.nextEntry(end); entryEnd >= 0; entryEnd = this.nextEntry(end)) {
      this.entry(entryEnd);
      const { keyAt, keyEnd, valueAt, valueEnd } = this;
      if (keyAt < 0) this.str(0, 0);
      else this.str(keyAt, keyEnd);
      const isTime = top && keyEnd - keyAt === 4 && isTimeKey(this.buf, keyAt);
      if (valueAt < 0) this.byte(0xc0);
      else {
        this.pos = valueAt;
        const text = this.value(valueEnd, isTime);
        if (isTime) this.time = text;
      }
      this.pos = entryEnd;
    }
    this.leave();
  }

  private list(end: number): void {
    this.enter();
    this.header(this.count(end), 0x90, 0xdc, 0xdd);
    for (let valueEnd = this.nextEntry(end); valueEnd >= 0; valueEnd = this.nextEntry(end)) {
      this.value(valueEnd);
      this.pos = valueEnd;
    }
    this.leave();
  }

  /** Writes a Value (its last kind wins, none is nil); with `wantText`, returns its text when it is a string. */
  private value(end: number, wantText = false): string | undefined {
    let kind = -1;
    let at = -1;
    while (this.pos < end) {
      const tag = this.varint();
      const start = this.pos;
      this.skip(tag & 7);
      if (tag === TAG.null || tag === TAG.number || tag === TAG.string || tag === TAG.bool || tag === TAG.struct || tag === TAG.list) {
        kind = tag;
        at = start;
      }
    }
    this.pos = at;
    switch (kind) {
      case TAG.number:
        this.number(this.float64(at));
        return undefined;
      case TAG.string: {
        const stringEnd = this.delimited();
        this.str(this.pos, stringEnd);
        return wantText ? decoder.decode(this.buf.subarray(this.pos, stringEnd)) : undefined;
      }
      case TAG.bool:
        this.byte(this.varint() !== 0 ? 0xc3 : 0xc2);
        return undefined;
      case TAG.struct:
        this.struct(this.delimited());
        return undefined;
      case TAG.list:
        this.list(this.delimited());
        return undefined;
      default:
        this.byte(0xc0);
        return undefined;
    }
  }

  /** How many field-1 entries (map entries, list values) lie between here and `end`. */
  private count(end: number): number {
    const start = this.pos;
    let n = 0;
    while (this.pos < end) {
      const tag = this.varint();
      if (tag === TAG.first) n++;
      this.skip(tag & 7);
    }
    this.pos = start;
    return n;
  }

  // The msgpack writing below follows @msgpack/msgpack's Encoder choice for choice.

  private number(v: number): void {
    if (Number.isSafeInteger(v)) {
      if (v >= 0) {
        if (v < 0x80) this.byte(v);
        else if (v < 0x100) this.byte(0xcc).byte(v);
        else if (v < 0x10000) this.byte(0xcd).u16(v);
        else if (v < 0x100000000) this.byte(0xce).u32(v);
        else this.byte(0xcf).u64(v);
      } else if (v >= -0x20) this.byte(0xe0 | (v + 0x20));
      else if (v >= -0x80) this.byte(0xd0).byte(v & 0xff);
      else if (v >= -0x8000) this.byte(0xd1).i16(v);
      else if (v >= -0x80000000) this.byte(0xd2).i32(v);
      else this.byte(0xd3).i64(v);
    } else if (Number.isFinite(v)) {
      this.room(9);
      this.out[this.o++] = 0xcb;
      this.outView.setFloat64(this.o, v);
      this.o += 8;
    } else this.byte(0xc0);
  }

  /**
   * The UTF-8 text at buf[start, end) as a msgpack str, copied as it is: protobuf strings are UTF-8
   * already. Only text with a byte over 0x7f is checked, and invalid UTF-8 is written as the
   * decoder reads it (U+FFFD), so both renderings of an event carry the same text.
   */
  private str(start: number, end: number): void {
    const at = this.o;
    const n = end - start;
    this.strHeader(n);
    this.room(n);
    const { buf, out } = this;
    let high = 0;
    if (n > 64) {
      out.set(buf.subarray(start, end), this.o);
      for (let i = start; i < end; i++) high |= buf[i]!;
    } else {
      for (let i = start, o = this.o; i < end; i++, o++) high |= out[o] = buf[i]!;
    }
    this.o += n;
    if (high < 0x80 || isUtf8(buf.subarray(start, end))) return;
    const fixed = encoder.encode(decoder.decode(buf.subarray(start, end)));
    this.o = at;
    this.strHeader(fixed.length);
    this.room(fixed.length);
    this.out.set(fixed, this.o);
    this.o += fixed.length;
  }

  private strHeader(n: number): void {
    if (n < 32) this.byte(0xa0 + n);
    else if (n < 0x100) this.byte(0xd9).byte(n);
    else if (n < 0x10000) this.byte(0xda).u16(n);
    else this.byte(0xdb).u32(n);
  }

  private header(n: number, fix: number, head16: number, head32: number): void {
    if (n < 16) this.byte(fix + n);
    else if (n < 0x10000) this.byte(head16).u16(n);
    else this.byte(head32).u32(n);
  }

  private room(n: number): void {
    if (this.o + n <= this.out.length) return;
    grow(this.o + n);
    this.out = scratch;
    this.outView = scratchView;
  }

  private byte(b: number): this {
    this.room(1);
    this.out[this.o++] = b;
    return this;
  }

  private u16(v: number): this {
    this.room(2);
    this.outView.setUint16(this.o, v);
    this.o += 2;
    return this;
  }

  private u32(v: number): this {
    this.room(4);
    this.outView.setUint32(this.o, v);
    this.o += 4;
    return this;
  }

  private i16(v: number): this {
    this.room(2);
    this.outView.setInt16(this.o, v);
    this.o += 2;
    return this;
  }

  private i32(v: number): this {
    this.room(4);
    this.outView.setInt32(this.o, v);
    this.o += 4;
    return this;
  }

  private u64(v: number): this {
    this.room(8);
    this.outView.setBigUint64(this.o, BigInt(v));
    this.o += 8;
    return this;
  }

  private i64(v: number): this {
    this.room(8);
    this.outView.setBigInt64(this.o, BigInt(v));
    this.o += 8;
    return this;
  }
}
