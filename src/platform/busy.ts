/**
 * The embedded database's "busy" refusal, and the bounded retry it calls for.
 *
 * FerretDB-SQLite has one writer at a time. A write waits for the lock up to SQLite's
 * busy_timeout (FerretDB's default 10 s; `FERRETDB_SQLITE_BUSY_TIMEOUT_MS`) and is then refused
 * with `database is locked (5) (SQLITE_BUSY)` (MongoDB code 1, InternalError). The refused
 * statement's SQLite transaction is rolled back, so a single-document write refused this way was
 * not done, and doing it again is safe. Only this refusal is retried here: a network error or a
 * timeout leaves the write's outcome unknown and is never retried blindly.
 *
 * Every single-document write of the driver (`insertOne`, `updateOne`, `deleteOne`, …: one SQLite
 * transaction each) is retried this way, installed once at connect (`wrapDriverWrites`),
 * so no caller can forget it. On MongoDB the refusal never occurs and the wrapper only passes
 * through.
 *
 * One command of several documents is different: FerretDB inserts a batch's documents one by one
 * after its first try fails, and a busy refusal part-way leaves the earlier ones written while the
 * whole command is answered as an error. group-commit.ts reads such a batch back before sending
 * any of it again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Collection } from 'mongodb';
import { writeLane } from './write-lane';

/** Attempts of one write before its busy refusal is passed on (then answered 503, Retry-After). */
export const BUSY_ATTEMPTS = 6;

/** Busy refusals since start (process-wide; /metrics shows them as `db_busy_refusals`). */
export const busyStats = {
  /** Writes sent again after a busy refusal. */
  retried: 0,
  /** Writes whose busy refusals outlasted BUSY_ATTEMPTS (their requests answered 503). */
  gaveUp: 0,
  /** Writes of a cache or a marker left undone after their attempts (repaired later). */
  leftUndone: 0,
};

/** True for FerretDB-SQLite's lock-wait refusal (the write was rolled back). */
export function isBusyError(err: unknown): boolean {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && /SQLITE_BUSY|database is locked/.test(message);
}

/**
 * The pause before attempt `attempt + 1`: doubling from 20 ms with ±50 % jitter, so writers
 * refused together do not all come back together.
 */
export function busyPause(attempt: number): Promise<void> {
  const base = 20 * 2 ** Math.min(attempt, 8);
  return sleep(Math.round(base * (0.5 + Math.random())));
}

/**
 * Runs a write that is safe to send again after a busy refusal (one document's insert, a `$set`
 * by `_id`, a delete by `_id`) up to BUSY_ATTEMPTS times; any other error is passed on at once.
 */
export async function retryBusy<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isBusyError(err)) throw err;
      if (attempt >= BUSY_ATTEMPTS) {
        busyStats.gaveUp++;
        throw err;
      }
      busyStats.retried++;
      await busyPause(attempt);
    }
  }
}

/** The driver's writes of one document: a busy refusal of one rolled all of it back. */
const SINGLE_DOCUMENT_WRITES = [
  'insertOne',
  'updateOne',
  'replaceOne',
  'deleteOne',
  'findOneAndUpdate',
  'findOneAndReplace',
  'findOneAndDelete',
] as const;
/** The driver's writes of several documents (`insertMany` sends through `bulkWrite`). */
const MULTI_DOCUMENT_WRITES = ['bulkWrite', 'updateMany', 'deleteMany'] as const;
let installed = false;

/**
 * Wraps the driver's writes once per process (mongoose sends through the same driver): every
 * write goes through the write lane (write-lane.ts), and single-document writes are retried in
 * `retryBusy` with the pause outside the lane (W4). Writes of several documents are not retried:
 * FerretDB may have done part of one before refusing it (group-commit.ts).
 */
export function wrapDriverWrites(): void {
  if (installed) return;
  installed = true;
  const proto = Collection.prototype as unknown as Record<
    string,
    (...args: unknown[]) => Promise<unknown>
  >;
  for (const name of SINGLE_DOCUMENT_WRITES) {
    const write = proto[name]!;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      return retryBusy(() => writeLane.run(() => write.apply(this, args)));
    };
  }
  for (const name of MULTI_DOCUMENT_WRITES) {
    const write = proto[name]!;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      return writeLane.run(() => write.apply(this, args));
    };
  }
}
