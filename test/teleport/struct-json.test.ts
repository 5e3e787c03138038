import { describe, expect, test } from "bun:test";
import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { EventsUnstructuredSchema } from "../../src/gen/teleport/auditlog/v1/auditlog_pb.ts";
import {
  RawEventsUnstructuredSchema,
  RawEventUnstructuredSchema,
  RawExportEventUnstructuredSchema,
} from "../../src/gen/teleport_event_handler/v1/raw_events_pb.ts";
import { decodeRawEvent, decodeRawEvents, decodeRawExportEvent, decodeStruct, StructTooDeepError } from "../../src/teleport/struct-json.ts";
import { RECURSION_LIMIT, structDepth } from "../../src/teleport/struct-wire.ts";
import { nestedStructBytes, runtimeStruct, runtimeStructBytes } from "../support/nested-struct.ts";
import { encodeStruct, encodeStructIteratively } from "../../scripts/fakes/struct-encode.ts";
import { FakeEventLog } from "../../scripts/fakes/fake-events.ts";

const encode = runtimeStructBytes;

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
    expect(decodeStruct(runtimeStructBytes(json))).toEqual(json);
  });

  test("an empty Struct is an empty object", () => {
    expect(decodeStruct(new Uint8Array())).toEqual({});
  });

  test("a __proto__ key is a plain property, not a prototype", () => {
    const decoded = decodeStruct(toBinary(StructSchema, runtimeStruct({ ["__proto__"]: "x", a: 1 })));
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
    const bytes = toBinary(StructSchema, runtimeStruct({ key: "value that is cut short" }));
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
    // Pages: empty, one event, many, with and without a next key.
    for (const [items, lastKey] of [[[], ""], [events.slice(0, 1), "k1"], [events.slice(0, 60), ""], [events.slice(5, 25), "next-page-key"]] as const) {
      const page = toBinary(RawEventsUnstructuredSchema, create(RawEventsUnstructuredSchema, { items: items.map(reference), lastKey }));
      expect(decodeRawEvents(page)).toEqual(fromBinary(RawEventsUnstructuredSchema, page));
    }
    // Defaults left out on the wire (index 0, no time, no payload) and a negative index.
    for (const fields of [{ type: "x" }, { id: "y", index: -5n }, {}]) {
      const bytes = toBinary(RawEventUnstructuredSchema, create(RawEventUnstructuredSchema, fields));
      expect(decodeRawEvent(bytes)).toEqual(fromBinary(RawEventUnstructuredSchema, bytes));
    }
  });

  test("a truncated event or page fails instead of returning half of it", () => {
    const log = new FakeEventLog({ events: 10, sessions: 1 });
    const bytes = toBinary(RawEventUnstructuredSchema, reference(log.eventAt(3)));
    expect(() => decodeRawEvent(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
    const page = toBinary(RawEventsUnstructuredSchema, create(RawEventsUnstructuredSchema, { items: [reference(log.eventAt(3)), reference(log.eventAt(4))] }));
    expect(() => decodeRawEvents(page.subarray(0, page.length - 3))).toThrow(/truncated/);
  });
});

describe("nesting limit", () => {
  /** Objects and lists, alternating, `levels` deep below a Struct (both count). */
  function nestedJson(levels: number): unknown {
    let value: unknown = "leaf";
    for (let level = levels + 1; level > 1; level--) value = level % 2 === 0 ? { a: value } : [value];
    return value;
  }
  const nestedStruct = nestedStructBytes;

  test("the fake's encoder for deep events writes the same bytes as its fast one", () => {
    const json = { a: 1, b: [1, "x", null, true, { c: [[]] }], d: { e: { f: "g" } }, h: [], deep: nestedJson(500) };
    expect(encodeStructIteratively(json as never)).toEqual(encodeStruct(json as never));
  });

  test("the test's deep Struct is what the fake's encoder writes for the same JSON", () => {
    expect(nestedStruct(600)).toEqual(encodeStruct({ a: nestedJson(599) } as never));
  });

  test("structDepth counts levels as the decoder does, and refuses past 10,000", () => {
    for (const depth of [1, 2, 3, 999, 1000, 1001, 10_000]) expect(structDepth(nestedStruct(depth))).toBe(depth);
    expect(structDepth(new Uint8Array())).toBe(1);
    expect(() => structDepth(nestedStruct(10_001))).toThrow(StructTooDeepError);
  });

  test("past the recursion limit the explicit-stack reader reads what the recursive one reads", () => {
    const log = new FakeEventLog({ events: 300, sessions: 5 });
    const cases = [
      ...Array.from({ length: log.count }, (_, i) => encodeStruct(log.eventAt(i).json)),
      encode({ ["__proto__"]: { x: [1, { y: null }] }, a: [[], {}, [[["deep"]]]], b: "grüße 🚀", n: -0.5, t: true }),
      // Entry value before its key, an entry with no key, a Value with two kinds, an unknown field.
      new Uint8Array([0x0a, 0x08, 0x12, 0x03, 0x1a, 0x01, 0x76, 0x0a, 0x01, 0x6b]),
      new Uint8Array([0x0a, 0x05, 0x12, 0x03, 0x1a, 0x01, 0x76]),
      new Uint8Array([0x0a, 0x0a, 0x0a, 0x01, 0x78, 0x12, 0x05, 0x1a, 0x01, 0x61, 0x20, 0x01]),
      new Uint8Array([0x0a, 0x09, 0x0a, 0x01, 0x78, 0x12, 0x04, 0x20, 0x01, 0x38, 0x05]),
    ];
    for (const bytes of cases) {
      const deep = decodeStruct(bytes, RECURSION_LIMIT + 1);
      expect(deep).toEqual(decodeStruct(bytes, 1));
      expect(JSON.stringify(deep)).toBe(JSON.stringify(decodeStruct(bytes, 1)));
      expect(Object.getPrototypeOf(deep)).toBe(Object.prototype);
    }
  });

  test("10,000 levels decode; one more is refused with a reason, not a stack overflow", () => {
    expect(JSON.stringify(decodeStruct(nestedStruct(10_000))).length).toBeGreaterThan(10_000);
    expect(() => decodeStruct(nestedStruct(10_001))).toThrow(StructTooDeepError);
    expect(() => decodeStruct(nestedStruct(10_001))).toThrow("nests deeper than 10000 levels");
  });
});
