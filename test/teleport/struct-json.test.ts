import { describe, expect, test } from "bun:test";
import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { StructSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { EventsUnstructuredSchema } from "../../src/gen/teleport/auditlog/v1/auditlog_pb.ts";
import {
  RawEventsUnstructuredSchema,
  RawEventUnstructuredSchema,
  RawExportEventUnstructuredSchema,
} from "../../src/gen/teleport_event_handler/v1/raw_events_pb.ts";
import { decodeRawEvent, decodeRawExportEvent, decodeStruct, StructTooDeepError } from "../../src/teleport/struct-json.ts";
import { encodeStruct, encodeStructIteratively } from "../../scripts/fakes/struct-encode.ts";
import { FakeEventLog } from "../../scripts/fakes/fake-events.ts";

/** The runtime's own encoding, the reference the hand-written decoder must agree with. */
const encode = (json: Record<string, unknown>) => toBinary(StructSchema, structOf(json));
function structOf(json: Record<string, unknown>) {
  return create(StructSchema, { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, valueOf(v)])) });
}
function valueOf(v: unknown): ReturnType<typeof create<typeof ValueSchema>> {
  if (v === null) return create(ValueSchema, { kind: { case: "nullValue", value: 0 } });
  if (typeof v === "number") return create(ValueSchema, { kind: { case: "numberValue", value: v } });
  if (typeof v === "string") return create(ValueSchema, { kind: { case: "stringValue", value: v } });
  if (typeof v === "boolean") return create(ValueSchema, { kind: { case: "boolValue", value: v } });
  if (Array.isArray(v)) return create(ValueSchema, { kind: { case: "listValue", value: { values: v.map(valueOf) } } });
  return create(ValueSchema, { kind: { case: "structValue", value: structOf(v as Record<string, unknown>) } });
}

describe("decodeStruct", () => {
  test("round-trips every kind of value, nesting, unicode and long strings", () => {
    const json = {
      ei: 0,
      event: "session.start",
      negative: -12.5,
      big: 2 ** 53 - 1,
      ok: true,
      no: false,
      nothing: null,
      "addr.remote": "10.0.0.1:3022",
      unicode: "grüße 🚀 \u0000 end",
      long: "x".repeat(5000),
      nested: { labels: { env: "prod", "ключ": "значение" }, empty: {} },
      list: [1, "two", [3, { four: 4 }], null, true, []],
    };
    expect(decodeStruct(toBinary(StructSchema, structOf(json)))).toEqual(json);
  });

  test("an empty Struct is an empty object", () => {
    expect(decodeStruct(new Uint8Array())).toEqual({});
  });

  test("a __proto__ key is a plain property, not a prototype", () => {
    const decoded = decodeStruct(toBinary(StructSchema, structOf({ ["__proto__"]: "x", a: 1 })));
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(JSON.stringify(decoded)).toContain('"__proto__":"x"');
  });

  test("agrees with the runtime on every event the fake Teleport generates", () => {
    const log = new FakeEventLog({ events: 300, sessions: 5 });
    for (let i = 0; i < log.count; i++) {
      const { json } = log.eventAt(i);
      expect(decodeStruct(encode(json))).toEqual(json);
    }
  });

  test("the raw views read what Teleport's own messages encode, and the fake's encoding is standard", () => {
    const log = new FakeEventLog({ events: 40, sessions: 2 });
    const events = Array.from({ length: log.count }, (_, i) => log.eventAt(i));
    const real = create(EventsUnstructuredSchema, {
      lastKey: "next",
      items: events.map((e) => ({ type: e.type, id: e.id, time: { seconds: BigInt(e.time.seconds), nanos: e.time.nanos }, index: BigInt(e.ei), unstructured: e.json })),
    });
    const raw = fromBinary(RawEventsUnstructuredSchema, toBinary(EventsUnstructuredSchema, real));
    expect(raw.lastKey).toBe("next");
    expect(raw.items.map((i) => [i.id, i.type, Number(i.index), decodeStruct(i.unstructured)])).toEqual(events.map((e) => [e.id, e.type, e.ei, e.json]));
    for (const e of events) expect(toJson(StructSchema, fromBinary(StructSchema, encodeStruct(e.json)))).toEqual(e.json);
  });

  test("truncated input fails loudly instead of returning half an event", () => {
    const bytes = toBinary(StructSchema, structOf({ key: "value that is cut short" }));
    expect(() => decodeStruct(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
  });
});

describe("decodeRawEvent and decodeRawExportEvent", () => {
  const reference = (e: { type: string; id: string; time: { seconds: number; nanos: number }; ei: number; json: Record<string, unknown> }) =>
    create(RawEventUnstructuredSchema, {
      type: e.type,
      id: e.id,
      time: { seconds: BigInt(e.time.seconds), nanos: e.time.nanos },
      index: BigInt(e.ei),
      unstructured: encode(e.json),
    });

  test("read what fromBinary reads: audit events, recordings (print included), and export items with their cursor", () => {
    const log = new FakeEventLog({ events: 200, sessions: 4, printsPerSession: 5 });
    const events = [...Array.from({ length: log.count }, (_, i) => log.eventAt(i)), ...log.recording(0), ...log.recording(1)];
    for (const e of events) {
      const bytes = toBinary(RawEventUnstructuredSchema, reference(e));
      expect(decodeRawEvent(bytes)).toEqual(fromBinary(RawEventUnstructuredSchema, bytes));
      const exported = toBinary(RawExportEventUnstructuredSchema, create(RawExportEventUnstructuredSchema, { event: reference(e), cursor: `c-${e.id}` }));
      expect(decodeRawExportEvent(exported)).toEqual(fromBinary(RawExportEventUnstructuredSchema, exported));
    }
    // Defaults left out on the wire (index 0, no time, no payload) and a negative index.
    for (const fields of [{ type: "x" }, { id: "y", index: -5n }, {}]) {
      const bytes = toBinary(RawEventUnstructuredSchema, create(RawEventUnstructuredSchema, fields));
      expect(decodeRawEvent(bytes)).toEqual(fromBinary(RawEventUnstructuredSchema, bytes));
    }
  });

  test("a truncated event fails instead of returning half of it", () => {
    const log = new FakeEventLog({ events: 10, sessions: 1 });
    const bytes = toBinary(RawEventUnstructuredSchema, reference(log.eventAt(3)));
    expect(() => decodeRawEvent(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
  });
});

describe("nesting limit", () => {
  /** Objects and lists, alternating, `levels` deep below a Struct (both count). */
  function nestedJson(levels: number): unknown {
    let value: unknown = "leaf";
    for (let level = levels + 1; level > 1; level--) value = level % 2 === 0 ? { a: value } : [value];
    return value;
  }
  /** A Struct `depth` levels deep in all. */
  const nestedStruct = (depth: number) => encodeStruct({ a: nestedJson(depth - 1) } as never);

  test("the fake's encoder for deep events writes the same bytes as its fast one", () => {
    const json = { a: 1, b: [1, "x", null, true, { c: [[]] }], d: { e: { f: "g" } }, h: [], deep: nestedJson(500) };
    expect(encodeStructIteratively(json as never)).toEqual(encodeStruct(json as never));
  });

  test("10,000 levels decode; one more is refused with a reason, not a stack overflow", () => {
    expect(JSON.stringify(decodeStruct(nestedStruct(10_000))).length).toBeGreaterThan(10_000);
    expect(() => decodeStruct(nestedStruct(10_001))).toThrow(StructTooDeepError);
    expect(() => decodeStruct(nestedStruct(10_001))).toThrow("nests deeper than 10000 levels");
  });
});
