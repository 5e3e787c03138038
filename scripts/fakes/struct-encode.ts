import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { RawEventUnstructured } from "../../src/gen/teleport_event_handler/v1/raw_events_pb.ts";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/**
 * Encodes a JSON object as google.protobuf.Struct bytes, for the fake Teleport's raw responses,
 * the same bytes toBinary writes. The generic runtime builds a message per key and value through
 * reflection, and protobuf-es's BinaryWriter (fork/join, growing buffers) still cost ~25 µs per
 * print event: with recordings of thousands of events the fake, not the handler, was the
 * benchmark's bottleneck. Here the sizes are computed first and the bytes written once.
 */
export function encodeStruct(json: JsonObject): Uint8Array {
  try {
    const out = Buffer.allocUnsafe(structSize(json));
    const end = writeStruct(out, 0, json);
    return end === out.length ? out : out.subarray(0, end);
  } catch (err) {
    // Only tests' deliberately deep events get here: the recursion is the fast path.
    if (!(err instanceof RangeError)) throw err;
    return encodeStructIteratively(json);
  }
}

/** The same bytes with an explicit stack, for nesting deeper than the call stack allows. */
export function encodeStructIteratively(json: JsonObject): Uint8Array {
  type Step = { entry: [string, JsonValue] } | { item: JsonValue } | { value: JsonValue } | { joins: number };
  const w = new BinaryWriter();
  const entries = (obj: JsonObject): Step[] => Object.keys(obj).map((key) => ({ entry: [key, obj[key]!] as [string, JsonValue] })).reverse();
  const stack: Step[] = entries(json);
  for (let step = stack.pop(); step !== undefined; step = stack.pop()) {
    if ("joins" in step) {
      for (let i = 0; i < step.joins; i++) w.join();
    } else if ("entry" in step) {
      w.tag(1, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(step.entry[0]);
      w.tag(2, WireType.LengthDelimited).fork();
      stack.push({ joins: 2 }, { value: step.entry[1] });
    } else if ("item" in step) {
      w.tag(1, WireType.LengthDelimited).fork();
      stack.push({ joins: 1 }, { value: step.item });
    } else {
      const v = step.value;
      if (Array.isArray(v)) {
        w.tag(6, WireType.LengthDelimited).fork();
        stack.push({ joins: 1 }, ...v.map((item) => ({ item })).reverse());
      } else if (v !== null && typeof v === "object") {
        w.tag(5, WireType.LengthDelimited).fork();
        stack.push({ joins: 1 }, ...entries(v));
      } else writeScalar(w, v);
    }
  }
  return w.finish();
}

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
/** A length-delimited field of `n` bytes with a one-byte tag. */
const delimitedSize = (n: number): number => 1 + varintSize(n) + n;

function entrySize(key: string, v: JsonValue): number {
  return delimitedSize(Buffer.byteLength(key)) + delimitedSize(valueSize(v));
}

function structSize(obj: JsonObject): number {
  let n = 0;
  for (const key of Object.keys(obj)) n += delimitedSize(entrySize(key, obj[key]!));
  return n;
}

function listSize(list: JsonValue[]): number {
  let n = 0;
  for (const item of list) n += delimitedSize(valueSize(item));
  return n;
}

function valueSize(v: JsonValue): number {
  if (v === null) return 2;
  if (typeof v === "number") return 9;
  if (typeof v === "string") return delimitedSize(Buffer.byteLength(v));
  if (typeof v === "boolean") return 2;
  if (Array.isArray(v)) return delimitedSize(listSize(v));
  return delimitedSize(structSize(v));
}

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
}

function writeString(out: Buffer, at: number, tag: number, s: string): number {
  out[at++] = tag;
  at = writeVarint(out, at, Buffer.byteLength(s));
  return at + out.write(s, at);
}

function writeStruct(out: Buffer, at: number, obj: JsonObject): number {
  for (const key of Object.keys(obj)) {
    const v = obj[key]!;
    out[at++] = 0x0a; // fields: map entry
    at = writeVarint(out, at, entrySize(key, v));
    at = writeString(out, at, 0x0a, key);
    out[at++] = 0x12; // entry value
    at = writeVarint(out, at, valueSize(v));
    at = writeValue(out, at, v);
  }
  return at;
}

function writeValue(out: Buffer, at: number, v: JsonValue): number {
  if (v === null) {
    out[at++] = 0x08;
    out[at++] = 0;
  } else if (typeof v === "number") {
    out[at++] = 0x11;
    at = out.writeDoubleLE(v, at);
  } else if (typeof v === "string") {
    at = writeString(out, at, 0x1a, v);
  } else if (typeof v === "boolean") {
    out[at++] = 0x20;
    out[at++] = v ? 1 : 0;
  } else if (Array.isArray(v)) {
    out[at++] = 0x32;
    at = writeVarint(out, at, listSize(v));
    for (const item of v) {
      out[at++] = 0x0a;
      at = writeVarint(out, at, valueSize(item));
      at = writeValue(out, at, item);
    }
  } else {
    out[at++] = 0x2a;
    at = writeVarint(out, at, structSize(v));
    at = writeStruct(out, at, v);
  }
  return at;
}

/** A scalar Value (null, number, string, bool) for the iterative encoder. */
function writeScalar(w: BinaryWriter, v: null | number | string | boolean): void {
  if (v === null) w.tag(1, WireType.Varint).int32(0);
  else if (typeof v === "number") w.tag(2, WireType.Bit64).double(v);
  else if (typeof v === "string") w.tag(3, WireType.LengthDelimited).string(v);
  else w.tag(4, WireType.Varint).bool(v);
}

/**
 * RawEventUnstructured as toBinary writes it (field order, proto3 defaults left out), for the fake's
 * hot path, which keeps encoded events and joins them into pages without the generic runtime.
 */
export function encodeRawEvent(e: Omit<RawEventUnstructured, "$typeName">): Uint8Array {
  const w = new BinaryWriter();
  if (e.type) w.tag(1, WireType.LengthDelimited).string(e.type);
  if (e.id) w.tag(2, WireType.LengthDelimited).string(e.id);
  if (e.time) {
    w.tag(3, WireType.LengthDelimited).fork();
    if (e.time.seconds !== 0n) w.tag(1, WireType.Varint).int64(e.time.seconds);
    if (e.time.nanos !== 0) w.tag(2, WireType.Varint).int32(e.time.nanos);
    w.join();
  }
  if (e.index !== 0n) w.tag(4, WireType.Varint).int64(e.index);
  if (e.unstructured.length > 0) w.tag(5, WireType.LengthDelimited).bytes(e.unstructured);
  return w.finish();
}

/** RawEventsUnstructured from encoded items. */
export function encodeEventsPage(items: readonly Uint8Array[], lastKey: string): Uint8Array {
  const w = new BinaryWriter();
  for (const item of items) w.tag(1, WireType.LengthDelimited).bytes(item);
  if (lastKey) w.tag(2, WireType.LengthDelimited).string(lastKey);
  return w.finish();
}
