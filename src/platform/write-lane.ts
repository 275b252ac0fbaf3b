/**
 * The write lane: on the embedded FerretDB-SQLite, writes are sent to the database one at a time
 * (a first-in, first-out queue in this process), not all at once.
 *
 * Why: SQLite has one writer. FerretDB 1.24 opens up to 100 connections and lets them race for
 * the write lock; a loser waits in SQLite's default busy handler, which sleeps 1, 2, 5, 10, …, 50,
 * 100 ms between tries and is not woken when the lock frees. Under load a write that lost a few
 * times sleeps 100 ms at a time while later writes barge past it: measured on a market-day
 * redemption load, write commands' p99 was 250–760 ms and their maximum over 1 s while reads
 * stayed under 70 ms. Queued here instead, each write waits its turn in order, and the database
 * spends no time asleep.
 *
 * - W1 at most `permits` write commands of this process are at the database at once; the rest
 *   wait in arrival order.
 * - W2 a write started inside a held lane does not queue again (re-entrant through
 *   AsyncLocalStorage): the driver's `insertMany` runs its `bulkWrite`, and a group commit that
 *   took the lane to form its batch sends it under the same permit.
 * - W3 reads never queue (SQLite's write-ahead log lets them run beside the writer).
 * - W4 a busy refusal's pause (busy.ts) is spent outside the lane, so a write refused by another
 *   process's lock does not hold back this process's queue while it sleeps.
 * - W5 a deferrable write (one nobody waits for: the account cache, the chains' head hints, the
 *   deletes of finished in-flight marker batches) gives way: while writes of requests wait, a
 *   released permit goes to them first, unless the deferrable write's oldest document has waited
 *   `deferMaxMs` (then it goes first: its backlog drains in order and never grows without bound).
 *   With nothing else waiting it runs at once, so an idle lane delays nothing. Under a saturated
 *   lane a cache's writes wait, and a group commit that coalesces (group-commit.ts seqUpserts)
 *   merges the writes of one document meanwhile: a household redeeming again and again has its
 *   cache written about once per `deferMaxMs`.
 *
 * Permits: `DB_WRITE_LANES` (0: no lane). By default 1 on FerretDB-SQLite (found at connect from
 * the server's start-up line) and 0 elsewhere: FerretDB-PostgreSQL and MongoDB take concurrent
 * writes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** How long a deferrable write gives way at most (W5), by default (ms). */
export const DEFER_MAX_MS = 1_000;

/** A deferrable write waiting for a permit: `since` tells how long its oldest document has waited. */
interface Deferred {
  go: () => void;
  since: () => number;
}

export class WriteLane {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  private readonly deferred: Deferred[] = [];
  private readonly held = new AsyncLocalStorage<WriteLane>();
  /**
   * Writes that waited for the lane, and the longest wait (ms); permits a deferrable write gave
   * way with (W5); for /metrics and the bench.
   */
  readonly stats = { queued: 0, longestWaitMs: 0, gaveWay: 0 };
  /** How long a deferrable write gives way at most (W5). */
  deferMaxMs = DEFER_MAX_MS;

  constructor(private allowed = 0) {}

  /** Write commands at the database at once at most (0: no lane). */
  get permits(): number {
    return this.allowed;
  }

  /** Sets the permits (0: no lane). Writes already queued go on as they were. */
  configure(permits: number): void {
    this.allowed = permits;
    while (this.queue.length + this.deferred.length && (permits === 0 || this.active < permits)) {
      this.active++;
      this.next()!();
    }
  }

  /** Writes waiting for a permit now. */
  get waiting(): number {
    return this.queue.length + this.deferred.length;
  }

  /**
   * Who gets a released permit (W1, W5): a deferrable write that has waited its most, else the
   * oldest request's write, else a deferrable write.
   */
  private next(): (() => void) | undefined {
    if (this.deferred.length) {
      const now = Date.now();
      const due = this.deferred.findIndex((d) => now - d.since() >= this.deferMaxMs);
      if (due >= 0) return this.deferred.splice(due, 1)[0]!.go;
      if (!this.queue.length) return this.deferred.shift()!.go;
      this.stats.gaveWay++;
    }
    return this.queue.shift();
  }

  get enabled(): boolean {
    return this.allowed > 0;
  }

  /**
   * Runs `fn` with its writes sent as they come, never queued: the bench's comparison routes
   * (a plain insert, medici), which measure the database as a plain app meets it.
   */
  unqueued<T>(fn: () => T): T {
    return this.held.run(this, fn);
  }

  /**
   * Runs `write` holding a permit (W1, W2). `deferrable`: a cache's write, which gives way to
   * requests' writes (W5); `since()` tells when its oldest document began to wait (epoch ms).
   */
  async run<T>(write: () => Promise<T>, deferrable?: { since: () => number }): Promise<T> {
    if (!this.allowed || this.held.getStore() === this) return write();
    if (this.active < this.allowed) this.active++;
    else {
      const since = Date.now();
      this.stats.queued++;
      // The permit is handed over by the releasing write (active stays counted).
      await new Promise<void>((go) => {
        if (deferrable) this.deferred.push({ go, since: deferrable.since });
        else this.queue.push(go);
      });
      // A deferrable write's wait is its choice, not the lane's delay: not counted as the longest.
      if (!deferrable)
        this.stats.longestWaitMs = Math.max(this.stats.longestWaitMs, Date.now() - since);
    }
    try {
      return await this.held.run(this, write);
    } finally {
      const next = this.next();
      if (next) next();
      else this.active--;
    }
  }
}

/** The process's lane (one database connection per process: db.ts). */
export const writeLane = new WriteLane();
