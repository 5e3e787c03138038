import { expect, test } from "bun:test";
import { filterReport } from "../../src/app/filter-watch.ts";
import { unknownTypeWarnings } from "../../src/export/type-names.ts";
import { KNOWN_EVENT_TYPES } from "../../src/teleport/event-types.ts";
import { eventTypesFromGo, renderModule } from "../../scripts/gen-event-types.ts";

test("the generator takes the Event constants and leaves field names and texts out", () => {
  const go = [
    '\tUserLoginEvent = "user.login"',
    '\tAccessRequestResourceSearch = "access_request.search"',
    '\tEventType = "event"',
    '\tSessionPrintEventBytes = "bytes"',
    '\tSessionRejectedReasonMaxConnections = "max_connections limit reached"',
    '\tExecEvent        = "exec"',
  ].join("\n");
  expect(eventTypesFromGo(go)).toEqual(["access_request.search", "exec", "user.login"]);
  expect(renderModule(["exec"])).toContain('  "exec",\n]);');
});

test("the generated list holds the types the handler itself relies on", () => {
  for (const t of ["user.login", "session.upload", "print", "desktop.recording", "session.start", "cert.create", "db.session.start", "kube.request"]) {
    expect(KNOWN_EVENT_TYPES.has(t)).toBe(true);
  }
});

test("unknown names are warned about with the nearest known type", () => {
  const warnings = unknownTypeWarnings({ types: ["user.logn", "session.start"], skipEventTypes: ["cert.creat"], skipSessionTypes: ["print", "zzzzzzzzzzzz"] });
  expect(warnings).toEqual([
    'types: "user.logn" is not a Teleport event type; did you mean "user.login"? (no event of that type will be exported)',
    'skip-event-types: "cert.creat" is not a Teleport event type; did you mean "cert.create"? (nothing will be skipped for it)',
    'skip-session-types: "zzzzzzzzzzzz" is not a Teleport event type (nothing will be skipped for it)',
  ]);
});

test("the hourly filter report names a stream only when its filters dropped everything read", () => {
  const at = (ar: number, af: number, sr: number, sf: number) => ({ audit: { received: ar, filtered: af }, session: { received: sr, filtered: sf } });
  expect(filterReport(at(10, 2, 5, 5), at(30, 22, 9, 9), 3_600_000)).toEqual([
    "the filters (types / skip-event-types) dropped all 20 audit events read in the last 1h; nothing of them was sent to Fluentd. Check types / skip-event-types",
    "the filters (skip-session-types) dropped all 4 session recording events read in the last 1h; nothing of them was sent to Fluentd. Check skip-session-types",
  ]);
  // Some got through, or nothing was read: nothing to say.
  expect(filterReport(at(10, 2, 5, 5), at(30, 21, 5, 5), 3_600_000)).toEqual([]);
});
