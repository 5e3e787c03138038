import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { RawEventsUnstructured, RawEventUnstructured, RawExportEventUnstructured } from "../gen/teleport_event_handler/v1/raw_events_pb.ts";
import { mayNestBeyond, RECURSION_LIMIT, structDepth, TAG, WireReader } from "./struct-wire.ts";

export { MAX_STRUCT_DEPTH, StructTooDeepError } from "./struct-wire.ts";

/**
 * Decodes an encoded google.protobuf.Struct straight into the JSON object it stands for, the way
 * the protobuf JSON mapping unwraps it. Written by hand because the generic runtime goes field by
 * field through reflection, building a Struct, a map entry and a Value message per key before
 * unwrapping them, and that was the largest CPU cost of exporting an event.
 */
/**
 * `levels`: the payload's nesting when the caller knows it (structDepth). Otherwise it is walked
 * first when it is big enough to nest past RECURSION_LIMIT.
 */
export function decodeStruct(bytes: Uint8Array, levels = mayNestBeyond(bytes, RECURSION_LIMIT) ? structDepth(bytes) : 1): JsonObject {
  const reader = new Reader(bytes);
  return levels > RECURSION_LIMIT ? reader.deepStruct(bytes.length) : reader.struct(bytes.length);
}

/**
 * Decodes a RawEventUnstructured (EventUnstructured on the wire) the way fromBinary does, without
 * the runtime's reflection: type, id, time and index, with the Struct left as bytes for
 * decodeStruct. A recording is mostly print events that are skipped by type, so for them this
 * envelope is all the decoding there is.
 */
export function decodeRawEvent(bytes: Uint8Array): RawEventUnstructured {
  return new Reader(bytes).rawEvent();
}

/** RawEventsUnstructured: a page of events as above, and the key of the next page. */
export function decodeRawEvents(bytes: Uint8Array): RawEventsUnstructured {
  return new Reader(bytes).rawEvents();
}

/** RawExportEventUnstructured: the event as above, and the cursor that resumes after it. */
export function decodeRawExportEvent(bytes: Uint8Array): RawExportEventUnstructured {
  return new Reader(bytes).rawExportEvent();
}

const EMPTY = new Uint8Array(0);

class Reader extends WireReader {
  rawEvents(): RawEventsUnstructured {
    const out: RawEventsUnstructured = { $typeName: "teleport_event_handler.v1.RawEventsUnstructured", items: [], lastKey: "" };
    while (this.pos < this.buf.length) {
      const tag = this.varint();
      if (tag === 0x0a) out.items.push(this.rawEvent(this.delimited()));
      else if (tag === 0x12) out.lastKey = this.string(this.delimited());
      else this.skip(tag & 7);
    }
    if (this.pos !== this.buf.length) throw new Error("truncated page: field past the end");
    return out;
  }

  rawExportEvent(): RawExportEventUnstructured {
    const out: RawExportEventUnstructured = { $typeName: "teleport_event_handler.v1.RawExportEventUnstructured", cursor: "" };
    while (this.pos < this.buf.length) {
      const tag = this.varint();
      if (tag === 0x0a) {
        const end = this.delimited();
        out.event = this.rawEvent(end);
      } else if (tag === 0x12) out.cursor = this.string(this.delimited());
      else this.skip(tag & 7);
    }
    if (this.pos !== this.buf.length) throw new Error("truncated event: field past the end");
    return out;
  }

  rawEvent(end = this.buf.length): RawEventUnstructured {
    const out: RawEventUnstructured = { $typeName: "teleport_event_handler.v1.RawEventUnstructured", type: "", id: "", index: 0n, unstructured: EMPTY };
    while (this.pos < end) {
      const tag = this.varint();
      switch (tag) {
        case 0x0a:
          out.type = this.string(this.delimited());
          break;
        case 0x12:
          out.id = this.string(this.delimited());
          break;
        case 0x1a: {
          const timeEnd = this.delimited();
          const time = { $typeName: "google.protobuf.Timestamp" as const, seconds: 0n, nanos: 0 };
          while (this.pos < timeEnd) {
            const t = this.varint();
            if (t === 0x08) time.seconds = this.int64();
            else if (t === 0x10) time.nanos = Number(BigInt.asIntN(32, BigInt(this.varint())));
            else this.skip(t & 7);
          }
          this.pos = timeEnd;
          out.time = time;
          break;
        }
        case 0x20:
          out.index = this.int64();
          break;
        case 0x2a: {
          const fieldEnd = this.delimited();
          out.unstructured = this.buf.subarray(this.pos, fieldEnd);
          this.pos = fieldEnd;
          break;
        }
        default:
          this.skip(tag & 7);
      }
    }
    if (this.pos !== end) throw new Error("truncated event: field past the end");
    return out;
  }

  /**
   * `struct` with an explicit stack instead of recursion, for nesting deeper than RECURSION_LIMIT.
   * Containers are attached to their parent when opened and filled after, so nothing is returned
   * up a call chain: each frame reads its own fields until its end, then the parent goes on.
   */
  deepStruct(end: number): JsonObject {
    type Frame =
      | { walk: "struct"; end: number; after: number; object: JsonObject }
      | { walk: "list"; end: number; after: number; list: JsonValue[] }
      | { walk: "value"; end: number; after: number; set: (v: JsonValue) => void };
    const root: JsonObject = {};
    this.enter();
    const stack: Frame[] = [{ walk: "struct", end, after: end, object: root }];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      if (this.pos >= frame.end) {
        stack.pop();
        this.pos = frame.after;
        if (frame.walk !== "value") this.leave();
        continue;
      }
      const tag = this.varint();
      if (frame.walk === "struct") {
        if (tag !== TAG.first) {
          this.skip(tag & 7);
          continue;
        }
        const entryEnd = this.delimited();
        this.entry(entryEnd);
        const { valueAt, valueEnd } = this;
        let key = "";
        if (this.keyAt >= 0) {
          this.pos = this.keyAt;
          key = this.string(this.keyEnd);
        }
        this.pos = entryEnd;
        const object = frame.object;
        const set = (v: JsonValue) => assign(object, key, v);
        set(null);
        if (valueAt >= 0) {
          this.pos = valueAt;
          stack.push({ walk: "value", end: valueEnd, after: entryEnd, set });
        }
      } else if (frame.walk === "list") {
        if (tag !== TAG.first) {
          this.skip(tag & 7);
          continue;
        }
        const valueEnd = this.delimited();
        const list = frame.list;
        const at = list.push(null) - 1;
        stack.push({ walk: "value", end: valueEnd, after: valueEnd, set: (v) => (list[at] = v) });
      } else if (tag === TAG.struct || tag === TAG.list) {
        const innerEnd = this.delimited();
        this.enter();
        if (tag === TAG.struct) {
          const object: JsonObject = {};
          frame.set(object);
          stack.push({ walk: "struct", end: innerEnd, after: innerEnd, object });
        } else {
          const list: JsonValue[] = [];
          frame.set(list);
          stack.push({ walk: "list", end: innerEnd, after: innerEnd, list });
        }
      } else if (tag === TAG.null || tag === TAG.number || tag === TAG.string || tag === TAG.bool) frame.set(this.scalar(tag));
      else this.skip(tag & 7);
    }
    return root;
  }

  /** A Value's null, number, string or bool. */
  private scalar(tag: number): JsonValue {
    switch (tag) {
      case TAG.null:
        this.varint();
        return null;
      case TAG.number: {
        const v = this.float64(this.pos);
        this.pos += 8;
        return v;
      }
      case TAG.string:
        return this.string(this.delimited());
      default:
        return this.varint() !== 0;
    }
  }

  struct(end: number): JsonObject {
    this.enter();
    const out: JsonObject = {};
    for (let entryEnd = this.nextEntry(end); entryEnd >= 0; entryEnd = this.nextEntry(end)) {
      let key = "";
      let value: JsonValue = null;
      while (this.pos < entryEnd) {
        const t = this.varint();
        if (t === TAG.first) key = this.string(this.delimited());
        else if (t === TAG.entryValue) value = this.value(this.delimited());
        else this.skip(t & 7);
      }
      assign(out, key, value);
    }
    this.leave();
    return out;
  }

  private list(end: number): JsonValue[] {
    this.enter();
    const out: JsonValue[] = [];
    for (let valueEnd = this.nextEntry(end); valueEnd >= 0; valueEnd = this.nextEntry(end)) out.push(this.value(valueEnd));
    this.leave();
    return out;
  }

  /** A Value; one without a kind (never sent by Teleport) reads as null. */
  private value(end: number): JsonValue {
    let v: JsonValue = null;
    while (this.pos < end) {
      const tag = this.varint();
      switch (tag) {
        case TAG.null:
          this.varint();
          v = null;
          break;
        case TAG.number:
          v = this.float64(this.pos);
          this.pos += 8;
          break;
        case TAG.string:
          v = this.string(this.delimited());
          break;
        case TAG.bool:
          v = this.varint() !== 0;
          break;
        case TAG.struct:
          v = this.struct(this.delimited());
          break;
        case TAG.list:
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

/** A plain assignment of "__proto__" would replace the object's prototype instead. */
function assign(object: JsonObject, key: string, value: JsonValue): void {
  if (key === "__proto__") Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}
