import { randomBytes } from 'node:crypto';

/** Engage object ids are 24-hex Mongo-style ids; tests only rely on their shape. */
export function newObjectId(): string {
  return randomBytes(12).toString('hex');
}

/** ISO-8601 without milliseconds, the format Engage uses in Source SDK payloads ("2012-10-01T17:18:40Z"). */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with milliseconds, the format of webhook `issued_at`. */
export function isoMillis(date: Date): string {
  return date.toISOString();
}

/**
 * Owns every timer the simulator starts, so `stop()` can cancel them all and jest sees no open
 * handles. After stop, new timers are refused and pending sleeps resolve at once.
 */
export class Scheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Timers plus sleeps still waiting; the simulator is idle only when this is 0. */
  get pendingCount(): number {
    return this.timers.size;
  }

  after(ms: number, task: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        task();
      },
      Math.max(0, ms),
    );
    this.timers.add(timer);
  }

  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleepers.delete(wake);
        resolve();
      };
      this.sleepers.add(wake);
      this.after(ms, wake);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const wake of [...this.sleepers]) wake();
  }
}

/** Deep copy handed to callers so introspection can never mutate simulator state. */
export function snapshot<T>(value: T): T {
  return structuredClone(value);
}
