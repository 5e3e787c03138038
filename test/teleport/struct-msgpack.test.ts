import { describe, expect, test } from "bun:test";
import { decode, Encoder } from "@msgpack/msgpack";
import { decodeStruct, StructTooDeepError } from "../../src/teleport/struct-json.ts";
import { structToMsgpack } from "../../src/teleport/struct-msgpack.ts";
import { encodeStruct } from "../../scripts/fakes/struct-encode.ts";
import { FakeEventLog } from "../../scripts/fakes/fake-events.ts";
import { nestedStructBytes, runtimeStructBytes } from "../support/nested-struct.ts";

/** The library the forward sink used before: what it writes for the decoded object is the reference. */
const library = new Encoder({ ignoreUndefined: true, maxDepth: 200 });
const reference = (bytes: Uint8Array) => library.encode(decodeStruct(bytes));
const RECEIVER = { levels: 127, of: "the receiver" };
const pack = (bytes: Uint8Array) => structToMsgpack(bytes, RECEIVER);

const encode = runtimeStructBytes;

/** Struct map entries written by hand, for orders and omissions no encoder produces (short fields only). */
const entry = (...fields: number[][]) => [0x0a, fields.flat().length, ...fields.flat()];
const key = (s: string) => [0x0a, s.length, ...Buffer.from(s)];
const stringValue = (s: string) => [0x12, s.length + 2, 0x1a, s.length, ...Buffer.from(s)];
const numberValue = (n: number) => [0x12, 9, 0x11, ...new Uint8Array(new Float64Array([n]).buffer)];

/** A small deterministic generator (mulberry32), so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every size class msgpack distinguishes, for integers, strings, maps and lists. */
const INTEGERS = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53) + 1];
const STRING_LENGTHS = [0, 1, 31, 32, 255, 256, 65535, 65536];

function randomValue(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 4 ? 6 : 8));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return INTEGERS[Math.floor(r() * INTEGERS.length)];
    case 3:
      return (r() - 0.5) * 10 ** Math.floor(r() * 20);
    case 4:
      return "ü🚀a".repeat(Math.floor(r() * 4)) + "x".repeat(STRING_LENGTHS[Math.floor(r() * 6)]!);
    case 5:
      return "short";
    case 6:
      return Array.from({ length: [0, 3, 15, 16, 40][Math.floor(r() * 5)]! }, () => randomValue(r, depth + 1));
    default:
      return randomObject(r, depth + 1);
  }
}

function randomObject(r: () => number, depth: number): Record<string, unknown> {
  const size = [0, 1, 15, 16, 20][Math.floor(r() * 5)]!;
  // Keys that are not integer-like: a JavaScript object would list those first (see struct-msgpack.ts).
  return Object.fromEntries(Array.from({ length: size }, (_, i) => [`k${i}.${Math.floor(r() * 1000)}`, randomValue(r, depth)]));
}

describe("structToMsgpack", () => {
  test("writes the bytes @msgpack/msgpack writes for the decoded object, over every size class", () => {
    for (let seed = 1; seed <= 150; seed++) {
      const bytes = encode(randomObject(rng(seed), 0));
      expect({ seed, bytes: [...pack(bytes).map] }).toEqual({ seed, bytes: [...reference(bytes)] });
    }
  });

  test("agrees on every event the fake Teleport generates, and finds each one's time", () => {
    const log = new FakeEventLog({ events: 300, sessions: 5 });
    for (let i = 0; i < log.count; i++) {
      const bytes = encodeStruct(log.eventAt(i).json);
      const packed = pack(bytes);
      expect(packed.map).toEqual(reference(bytes));
      expect(packed.time).toBe(decodeStruct(bytes).time as string);
    }
  });

  test("big containers and long strings take the 16- and 32-bit headers", () => {
    const json = { many: Array.from({ length: 70_000 }, (_, i) => i % 300), long: "y".repeat(70_000), wide: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`f${i}`, i])) };
    const bytes = encode(json);
    expect(pack(bytes).map).toEqual(reference(bytes));
  });

  test("a number JSON cannot hold is nil, as in_http's JSON body has null", () => {
    const bytes = encode({ nan: Number.NaN, inf: Number.POSITIVE_INFINITY, ninf: Number.NEGATIVE_INFINITY, ok: 1.5 });
    expect(decode(pack(bytes).map)).toEqual(JSON.parse(JSON.stringify(decodeStruct(bytes))));
    expect(decode(pack(bytes).map)).toEqual({ nan: null, inf: null, ninf: null, ok: 1.5 });
  });

  test("invalid UTF-8 becomes U+FFFD, as the JSON decoder reads it", () => {
    const bytes = encode({ s: "AB" });
    // Corrupt "AB" (the last two bytes) into a lone continuation byte and a truncated sequence.
    bytes[bytes.length - 2] = 0x80;
    bytes[bytes.length - 1] = 0xe2;
    expect(pack(bytes).map).toEqual(reference(bytes));
    expect(decode(pack(bytes).map)).toEqual({ s: "\ufffd\ufffd" });
  });

  test("integer-like keys keep their wire order; the record is the same", () => {
    const bytes = new Uint8Array([...entry(key("b"), numberValue(1)), ...entry(key("10"), numberValue(2))]);
    const map = pack(bytes).map;
    expect(decode(map)).toEqual(decodeStruct(bytes));
    // A JavaScript object lists "10" first; the msgpack map keeps Teleport's order.
    expect(Object.keys(decodeStruct(bytes))).toEqual(["10", "b"]);
    expect(Buffer.from(map).indexOf("b")).toBeLessThan(Buffer.from(map).indexOf("10"));
  });

  test("a map entry's fields in either order, or missing, read as the decoder reads them", () => {
    const bytes = new Uint8Array([...entry(stringValue("v"), key("k")), ...entry(key("nokey-value")), ...entry(stringValue("nameless"))]);
    expect(pack(bytes).map).toEqual(reference(bytes));
    expect(decodeStruct(bytes)).toEqual({ k: "v", "nokey-value": null, "": "nameless" });
  });

  test("a Value carrying two kinds is its last one, and an empty Value is nil", () => {
    // Value { string_value "a", bool_value true } and Value {}.
    const bytes = new Uint8Array([0x0a, 0x0a, 0x0a, 0x01, 0x78, 0x12, 0x05, 0x1a, 0x01, 0x61, 0x20, 0x01, 0x0a, 0x05, 0x0a, 0x01, 0x79, 0x12, 0x00]);
    expect(decodeStruct(bytes)).toEqual({ x: true, y: null });
    expect(pack(bytes).map).toEqual(reference(bytes));
  });

  test("only the top-level time is the event's time, and only as a string", () => {
    expect(pack(encode({ a: { time: "nested" }, time: "2024-05-01T12:00:00.123456789Z" })).time).toBe("2024-05-01T12:00:00.123456789Z");
    expect(pack(encode({ a: { time: "nested" } })).time).toBeUndefined();
    expect(pack(encode({ time: 12 })).time).toBeUndefined();
  });

  test("headroom: the map starts that many bytes in, the bytes before it left for the caller", () => {
    const bytes = encodeStruct(new FakeEventLog({ events: 3, sessions: 0 }).eventAt(1).json);
    const { map } = structToMsgpack(bytes, RECEIVER, 11);
    expect(map.length).toBe(11 + reference(bytes).length);
    expect(map.subarray(11)).toEqual(reference(bytes));
  });

  test("an empty Struct is an empty map", () => {
    expect(pack(new Uint8Array()).map).toEqual(new Uint8Array([0x80]));
  });

  test("a truncated Struct fails instead of writing half of it", () => {
    const bytes = encode({ a: "long enough to cut" });
    expect(() => pack(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
  });
});

describe("nesting limit", () => {
  const nested = nestedStructBytes;

  test("the receiver's limit holds: 127 levels transcode, 128 are refused naming it", () => {
    expect(pack(nested(127)).map).toEqual(reference(nested(127)));
    expect(() => pack(nested(128))).toThrow(StructTooDeepError);
    expect(() => pack(nested(128))).toThrow("nests deeper than 127 levels, more than the receiver accepts");
  });
});
