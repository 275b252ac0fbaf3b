/**
 * A simulated clock for replaying history through the ledger's own code path. The ledger stamps
 * each entry with the time it is posted (`new Date()`); to generate K years of history the
 * generator runs each posting inside `atSimulatedTime(t, fn)`, where `new Date()` and
 * `Date.now()` answer `t`.
 *
 * Invariants:
 * - Only code running inside `atSimulatedTime` (its async continuation included, through
 *   AsyncLocalStorage) sees the simulated time; everything else in the process, and every other
 *   process, sees the real clock. Dates built from an argument are never changed.
 * - `installSimulatedClock` replaces the global `Date` with a transparent proxy (same prototype,
 *   so `instanceof Date` holds both ways); it is called only by the `generate` command, which
 *   runs in its own CLI process, never by the service.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const simulated = new AsyncLocalStorage<number>();
const RealDate = Date;
let installed = false;

/** Makes `new Date()` and `Date.now()` answer the simulated time inside `atSimulatedTime`. */
export function installSimulatedClock(): void {
  if (installed) return;
  installed = true;
  const now = () => simulated.getStore() ?? RealDate.now();
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args: unknown[], newTarget) {
      const at = args.length === 0 ? simulated.getStore() : undefined;
      return Reflect.construct(target, at === undefined ? args : [at], newTarget) as object;
    },
    get(target, prop) {
      if (prop === 'now') return now;
      return Reflect.get(target, prop, target) as unknown;
    },
  });
}

/** Runs `fn` with the clock reading `atMs` (milliseconds since the epoch). */
export function atSimulatedTime<T>(atMs: number, fn: () => Promise<T>): Promise<T> {
  if (!installed) throw new Error('installSimulatedClock() first');
  return simulated.run(atMs, fn);
}
