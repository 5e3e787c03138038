import { create, toBinary } from "@bufbuild/protobuf";
import { NullValue, type Struct, StructSchema, type Value, ValueSchema } from "@bufbuild/protobuf/wkt";

/**
 * Struct bytes nested `depth` levels in all ({a: [{a: [… "leaf"]}]}, the Struct itself is level 1),
 * written inside out in linear time: the fake's JSON encoder recurses, and past the call stack
 * falls back to a writer that takes seconds at 10,000 levels.
 */
export function nestedStructBytes(depth: number): Uint8Array {
  let value = field(0x1a, Buffer.from("leaf")); // Value { string_value }
  for (let level = depth; level > 1; level--) value = level % 2 === 0 ? field(0x2a, structOfA(value)) : field(0x32, field(0x0a, value));
  return structOfA(value);
}

/** Struct { fields: { "a": value } } */
const structOfA = (value: Uint8Array) => field(0x0a, Buffer.concat([field(0x0a, Buffer.from("a")), field(0x12, value)]));

function field(tag: number, body: Uint8Array): Uint8Array {
  const head = [tag];
  let n = body.length;
  for (; n >= 0x80; n = Math.floor(n / 128)) head.push((n & 0x7f) | 0x80);
  head.push(n);
  return Buffer.concat([new Uint8Array(head), body]);
}

/**
 * The protobuf runtime's own Struct encoding of a JSON-like object, the reference the hand-written
 * readers must agree with (numbers may be NaN or infinite there, as in no JSON).
 */
export const runtimeStructBytes = (json: Record<string, unknown>): Uint8Array => toBinary(StructSchema, runtimeStruct(json));

export function runtimeStruct(json: Record<string, unknown>): Struct {
  return create(StructSchema, { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, runtimeValue(v)])) });
}

function runtimeValue(v: unknown): Value {
  if (v === null) return create(ValueSchema, { kind: { case: "nullValue", value: NullValue.NULL_VALUE } });
  if (typeof v === "number") return create(ValueSchema, { kind: { case: "numberValue", value: v } });
  if (typeof v === "string") return create(ValueSchema, { kind: { case: "stringValue", value: v } });
  if (typeof v === "boolean") return create(ValueSchema, { kind: { case: "boolValue", value: v } });
  if (Array.isArray(v)) return create(ValueSchema, { kind: { case: "listValue", value: { values: v.map(runtimeValue) } } });
  return create(ValueSchema, { kind: { case: "structValue", value: runtimeStruct(v as Record<string, unknown>) } });
}
