import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { RawEventUnstructured } from "../../src/gen/teleport_event_handler/v1/raw_events_pb.ts";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/**
 * Encodes a JSON object as google.protobuf.Struct bytes, for the fake Teleport's raw responses.
 * The generic runtime builds a message per key and value through reflection; at a million events
 * that made the fake, not the handler, the bottleneck of the benchmark.
 */
export function encodeStruct(json: JsonObject): Uint8Array {
  try {
    const w = new BinaryWriter();
    writeStruct(w, json);
    return w.finish();
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
      } else writeValue(w, v);
    }
  }
  return w.finish();
}

function writeStruct(w: BinaryWriter, obj: JsonObject): void {
  for (const key of Object.keys(obj)) {
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(key);
    w.tag(2, WireType.LengthDelimited).fork();
    writeValue(w, obj[key]!);
    w.join().join();
  }
}

function writeValue(w: BinaryWriter, v: JsonValue): void {
  if (v === null) w.tag(1, WireType.Varint).int32(0);
  else if (typeof v === "number") w.tag(2, WireType.Bit64).double(v);
  else if (typeof v === "string") w.tag(3, WireType.LengthDelimited).string(v);
  else if (typeof v === "boolean") w.tag(4, WireType.Varint).bool(v);
  else if (Array.isArray(v)) {
    w.tag(6, WireType.LengthDelimited).fork();
    for (const item of v) {
      w.tag(1, WireType.LengthDelimited).fork();
      writeValue(w, item);
      w.join();
    }
    w.join();
  } else {
    w.tag(5, WireType.LengthDelimited).fork();
    writeStruct(w, v);
    w.join();
  }
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
