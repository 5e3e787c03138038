import { abortError } from "../../lib/abort.ts";
import { observeOutcome, type RetryPause } from "../outcomes.ts";
import type { DeliveryReport } from "../types.ts";
import type { ForwardConnection } from "./connection.ts";
import type { Frame } from "./frames.ts";

/** What a lane needs from its sink: connections, the connection limit and the retry policy. */
export interface LaneDeps {
  /** Redacted URL, for the retry log. */
  where: string;
  /** Most frames written and not yet acknowledged. */
  window: number;
  /** A slot of `fluentd-max-connections`, held while the lane has frames to deliver. */
  acquire(signal: AbortSignal): Promise<() => void>;
  /** An idle connection to the lane's endpoint, or a new one. */
  connect(signal: AbortSignal): Promise<ForwardConnection>;
  /** The lane is done with a connection that still works. */
  keep(conn: ForwardConnection): void;
  /** A connection failed: log what needs logging, then back off. */
  failed(err: Error, pause: RetryPause, signal: AbortSignal): Promise<void>;
  /** Nothing is left to deliver. */
  idle(): void;
}

/** One `deliver` call: its frames' acknowledgements fill its report. */
interface Call {
  report: DeliveryReport;
  started: number;
  unacked: number;
  abandoned: boolean;
  resolve(): void;
  reject(err: Error): void;
}

interface Outgoing {
  call: Call;
  frame: Frame;
  /** Settles with the frame's ack, once written on the current connection. */
  acked?: Promise<void>;
  sentAt: number;
}

/**
 * The frames of every call to one URL, in call order, on one connection. Frames are written up to
 * `window` ahead of the oldest unacknowledged one, whichever call they belong to, and acks are taken
 * in order. When the connection fails, every frame not yet acknowledged is written again on the
 * next one, oldest first. So a receiver gets one URL's batches in the order the caller handed them
 * over, even across reconnects, and a call resolves only once each of its frames was acknowledged.
 */
export class ForwardLane {
  /** Frames not yet acknowledged, oldest first; the first `written` are on the current connection. */
  private readonly queue: Outgoing[] = [];
  private written = 0;
  private running = false;
  private conn: ForwardConnection | undefined;
  /** Aborts the lane's waits (slot, connect, backoff) once every call still queued was abandoned. */
  private quit = new AbortController();

  constructor(private readonly deps: LaneDeps) {}

  /** Queues the frames after those of earlier calls; resolves once all of them were acknowledged. */
  deliver(frames: Frame[], report: DeliveryReport, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => this.abandon(call);
      const call: Call = {
        report,
        started: Date.now(),
        unacked: frames.length,
        abandoned: false,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject,
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      for (const frame of frames) this.queue.push({ call, frame, sentAt: 0 });
      if (this.quit.signal.aborted) this.quit = new AbortController();
      if (!this.running) {
        this.running = true;
        void this.run();
      }
    });
  }

  private async run(): Promise<void> {
    let release: (() => void) | undefined;
    // Consecutive failures: an acknowledgement ends a run of them, as a delivered batch does for
    // the in_http sink, so a connection reset now and then in a long backlog never finds the
    // backoff where the last one left it.
    let failures = 0;
    try {
      release = await this.deps.acquire(this.quit.signal);
      while (this.live()) {
        const sentAt = performance.now();
        try {
          this.conn ??= await this.deps.connect(this.quit.signal);
          if (failures > 0) for (const o of this.queue) o.call.report.retried += o.frame.records;
          await this.pump(this.conn, () => (failures = 0));
        } catch (err) {
          this.conn?.fail(err as Error);
          this.conn = undefined;
          this.written = 0;
          this.dropAbandoned();
          if (!this.live()) break;
          failures++;
          const records = this.queue.reduce((n, o) => n + o.frame.records, 0);
          const pause = { where: this.deps.where, cause: (err as Error).message, failures, started: this.queue[0]!.call.started, records };
          observeOutcome({ kind: "retry", cause: pause.cause }, (performance.now() - sentAt) / 1000);
          await this.deps.failed(err as Error, pause, this.quit.signal).catch(() => undefined);
        }
      }
    } catch {
      // Only the wait for a slot can end here: every call was abandoned meanwhile.
    } finally {
      release?.();
      this.dropAbandoned();
      if (this.conn?.usable && this.queue.length === 0) this.deps.keep(this.conn);
      else this.conn?.close();
      this.conn = undefined;
      this.written = 0;
      this.running = false;
      if (this.queue.length > 0) {
        this.running = true;
        void this.run();
      } else this.deps.idle();
    }
  }

  /** Writes frames up to the window and takes the acks in order until the queue is empty; throws at the first failure. */
  private async pump(conn: ForwardConnection, acked: () => void): Promise<void> {
    while (this.queue.length > 0) {
      while (this.written < Math.min(this.queue.length, this.deps.window)) {
        const o = this.queue[this.written++]!;
        o.acked = conn.send(o.frame);
        o.acked.catch(() => undefined); // awaited below, in order
        o.sentAt = performance.now();
        o.call.report.requests++;
      }
      const head = this.queue[0]!;
      await head.acked;
      this.queue.shift();
      this.written--;
      acked();
      observeOutcome({ kind: "ok", bytes: head.frame.entryBytes }, (performance.now() - head.sentAt) / 1000);
      const { call } = head;
      if (call.abandoned) continue;
      call.report.delivered += head.frame.records;
      call.report.bytes += head.frame.entryBytes;
      if (--call.unacked === 0) call.resolve();
    }
  }

  /**
   * The caller gave up (shutdown deadline): its frames not yet written are dropped. Those written
   * stay until their acks come, so later calls' acks still match; once nothing queued is wanted,
   * the connection is given up too, as a single call's would have been.
   */
  private abandon(call: Call): void {
    call.abandoned = true;
    call.reject(abortError());
    this.dropAbandoned();
    if (!this.live()) {
      this.quit.abort();
      this.conn?.fail(abortError());
    }
  }

  private dropAbandoned(): void {
    for (let i = this.queue.length - 1; i >= this.written; i--) if (this.queue[i]!.call.abandoned) this.queue.splice(i, 1);
  }

  /** Some queued frame still belongs to a caller waiting for it. */
  private live(): boolean {
    return this.queue.some((o) => !o.call.abandoned);
  }
}
