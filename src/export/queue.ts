import { Stopped } from "./retry.ts";

/**
 * A bounded hand-off between a producer (reading Teleport) and a consumer (delivering to Fluentd):
 * the producer runs ahead by at most `capacity` items, so memory does not grow with the backlog.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private closed = false;
  private failure: { error: unknown } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly capacity: number) {}

  /** Waits while full; returns false when the consumer has gone (stop producing). */
  async push(item: T): Promise<boolean> {
    while (this.items.length >= this.capacity && !this.closed) {
      await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    }
    if (this.closed) return false;
    this.items.push(item);
    this.wakeConsumer?.();
    return true;
  }

  /** The next item; undefined once closed and drained; throws what the producer failed with. */
  async shift(): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (this.failure) throw this.failure.error;
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
    return this.take();
  }

  /** Resolves true once an item is waiting, false when `ms` pass first or the queue closes. */
  async waitForItem(ms: number): Promise<boolean> {
    if (this.items.length > 0) return true;
    if (this.closed) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeConsumer = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    return this.items.length > 0;
  }

  /** The next item only if one is already waiting. */
  peek(): T | undefined {
    return this.items[0];
  }

  take(): T {
    const item = this.items.shift()!;
    this.wakeProducer?.();
    return item;
  }

  close(): void {
    this.closed = true;
    this.wakeConsumer?.();
    this.wakeProducer?.();
  }

  fail(error: unknown): void {
    this.failure = { error };
    this.close();
  }
}

/**
 * Runs a producer into `queue`: the queue closes when the producer ends or is stopped, and fails
 * with anything else, so the consumer sees the error instead of waiting forever.
 */
export function feed<T>(queue: BoundedQueue<T>, produce: () => Promise<void>): Promise<void> {
  return produce().then(
    () => queue.close(),
    (err) => (err instanceof Stopped ? queue.close() : queue.fail(err)),
  );
}
