import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/**
 * Encodes a JSON object as google.protobuf.Struct bytes, for the fake Teleport's raw responses.
 * The generic runtime builds a message per key and value through reflection; at a million events
 * that made the fake, not the handler, the bottleneck of the benchmark.
 */
export function encodeStruct(json: JsonObject): Uint8Array {
  const w = new BinaryWriter();
  writeStruct(w, json);
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
