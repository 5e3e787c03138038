import type { AuditPosition, LegacyCheckpoint } from "../state/index.ts";
import type { AuditEvent, SearchPage } from "../teleport/types.ts";
import { type Segment, slices } from "./batches.ts";

/**
 * The legacy engine's walk through the audit log as a pure step function: given where the walk
 * is, the window it queried and the page Teleport answered, `step` says what to deliver and where
 * the walk goes next. The engine (legacy.ts) only does the I/O around it.
 *
 * Windows of `windowMs` are walked in time order, pages of `batch` inside each. A page key is only
 * meaningful inside the window that produced it, so every window starts from an empty key.
 *
 * Empty history is cheap: window-size bounds the cost of one query (Athena scans the range), but
 * an empty range costs nothing, so while windows come back empty the next one is twice as wide.
 * When a widened window finds events, its page is dropped (its key belongs to a window no
 * checkpoint can name) and the walk resumes at the first event's second with a window of
 * window-size again. Only windows of exactly window-size ever have a page key saved.
 */
export interface Walk {
  /** Where reading resumes; what a commit stores. */
  pos: LegacyCheckpoint;
  /** Width of the next window: window-size, or more while history is empty. */
  span: number;
  /** The cursor event still sought (events up to it are skipped); undefined once found. */
  seek: string | undefined;
}

export interface WalkRules {
  windowMs: number;
  /** The client-side filters (skip-event-types). */
  keep: (e: AuditEvent) => boolean;
  /** Most events in one segment (the sink's batch size). */
  batchSize: number;
}

/** The window the walk queries next, cut at `now`: an open window is read again until it closes. */
export interface Window {
  from: Date;
  to: Date;
  /** The window ends before `now`: its content is final. */
  closed: boolean;
}

export type Step =
  /** A widened window found events: query again from their second, with window-size. */
  | { kind: "narrowed"; walk: Walk }
  | {
      kind: "read";
      walk: Walk;
      /** What to queue for delivery, in order; each carries the position reached once it is acknowledged. */
      segments: Segment[];
      /** Events new to the walk (after de-duplication and the cursor), and how many of them the filters dropped. */
      received: number;
      filtered: number;
      /** The event the walk resumed after is no longer in its page: the page is sent again. */
      lostEventId?: string;
      /** Where the reader is in time, when this page says (the progress line). */
      readPosition?: Date;
      /** The window is open and fully read: wait before reading it again. */
      caughtUp: boolean;
    };

export function startWalk(saved: LegacyCheckpoint | undefined, startTime: Date, seek: string | undefined, windowMs: number): Walk {
  return { pos: saved ?? { windowStart: startTime, pageKey: "", lastEventId: "" }, span: windowMs, seek };
}

export function windowAt(walk: Walk, now: number): Window {
  const end = walk.pos.windowStart.getTime() + walk.span;
  return { from: walk.pos.windowStart, to: new Date(Math.min(end, now)), closed: end <= now };
}

function lastIndexOfId(events: readonly AuditEvent[], id: string): number {
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.id === id) return i;
  return -1;
}

function legacy(checkpoint: LegacyCheckpoint, seekFinished: boolean): AuditPosition {
  return { kind: "legacy", checkpoint, seekFinished };
}

export function step(walk: Walk, window: Window, page: SearchPage, rules: WalkRules): Step {
  const { pos, span } = walk;
  const { from, to, closed } = window;
  if (span > rules.windowMs && (page.events.length > 0 || page.nextKey)) {
    // Events at last: narrow back to window-size where they begin (nothing earlier matched).
    const first = page.events[0]?.time.getTime();
    const at = first === undefined ? from.getTime() : Math.max(from.getTime(), Math.floor(first / 1000) * 1000);
    return { kind: "narrowed", walk: { ...walk, pos: { windowStart: new Date(at), pageKey: "", lastEventId: "" }, span: rules.windowMs } };
  }

  let fresh = page.events;
  let lostEventId: string | undefined;
  if (pos.lastEventId) {
    const at = lastIndexOfId(fresh, pos.lastEventId);
    if (at >= 0) fresh = fresh.slice(at + 1);
    else if (fresh.length > 0) lostEventId = pos.lastEventId;
  }
  const received = fresh.length;
  let seek = walk.seek;
  let seekFinished = false;
  if (seek) {
    const at = fresh.findIndex((e) => e.id === seek);
    seekFinished = at >= 0;
    fresh = seekFinished ? fresh.slice(at + 1) : [];
    if (seekFinished) seek = undefined;
  }

  let end: LegacyCheckpoint;
  let caughtUp = false;
  if (page.nextKey) end = { windowStart: from, pageKey: page.nextKey, lastEventId: "" };
  else if (closed) end = { windowStart: new Date(from.getTime() + span), pageKey: "", lastEventId: "" };
  else {
    end = { windowStart: from, pageKey: pos.pageKey, lastEventId: page.events.at(-1)?.id ?? pos.lastEventId };
    caughtUp = true;
  }

  const kept = fresh.filter(rules.keep);
  const moved = end.windowStart.getTime() !== from.getTime() || end.pageKey !== pos.pageKey || end.lastEventId !== pos.lastEventId;
  const segments: Segment[] = [];
  if (kept.length > 0 || moved || seekFinished) {
    const parts = [...slices(kept, rules.batchSize)];
    // Every part but the last ends inside the page: it resumes after its own last event.
    for (const part of parts.slice(0, -1)) {
      const partial = { windowStart: from, pageKey: pos.pageKey, lastEventId: part.at(-1)!.id };
      segments.push({ events: part, position: legacy(partial, seekFinished), more: true });
    }
    segments.push({ events: parts.at(-1) ?? [], position: legacy(end, seekFinished), more: !caughtUp });
  }
  const widen = closed && page.events.length === 0 && !page.nextKey;
  return {
    kind: "read",
    walk: { pos: end, span: widen ? span * 2 : span, seek },
    segments,
    received,
    filtered: fresh.length - kept.length,
    lostEventId,
    readPosition: page.events.at(-1)?.time ?? (caughtUp ? to : undefined),
    caughtUp,
  };
}
