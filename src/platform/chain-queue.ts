/**
 * Appends to one chain queued in this process (platform/append-chain.ts and the ledger), so that
 * concurrent appends wait their turn rather than collide N² times on the unique index.
 */

/** Serialises appends to a chain in this process (a queue, not N² refused inserts; not a lock). */
export class ChainQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** True while an append to `key` is queued or running. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }
}
