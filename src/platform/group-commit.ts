/**
 * Group commit: inserts from concurrent requests (different chains) sent to the database together,
 * as one unordered `insertMany`, so that N requests cost one round trip instead of N. (The same
 * serves single-document writes by lone `_id` sent as one unordered `bulkWrite`: the ledger's
 * account cache.)
 *
 * - A request's document is collected with the others handed in during the same turn of the
 *   event loop (until the next `setImmediate`) or until `max` are waiting, whichever is first.
 * - The batch is sent with `{ ordered: false }`: the database inserts every document on its own
 *   and refuses each one alone on its unique indexes, so a batch never weakens an invariant
 *   (two documents in one batch that clash are refused exactly as two separate inserts are).
 * - Each request is settled by its own document's outcome: resolved once the batch's reply says
 *   the document was written (the write is acknowledged, with the connection's write concern,
 *   before the reply), rejected with its own error (a duplicate key stays a duplicate key, so
 *   the caller's append loop retries as usual). An error of the whole batch (the connection
 *   failed) rejects every request in it: none of them may assume its document was written.
 * - A busy refusal of the whole batch (busy.ts: FerretDB-SQLite's lock wait ran out) is not a
 *   failure yet: FerretDB may have written some of the batch before it gave up, so each document
 *   is read back by `_id` (`readBack`): written as sent, it is answered as written; absent, it is
 *   sent again with the next batch after a pause (up to BUSY_ATTEMPTS sends); held by another
 *   document, it is refused as a duplicate key. Writes that are safe to repeat (the account
 *   cache's `$set`s) need no read-back and are sent again whole.
 */

import { BSON, type AnyBulkWriteOperation, type Collection } from 'mongodb';
import type { Model } from 'mongoose';
import { BUSY_ATTEMPTS, busyPause, busyStats, isBusyError } from './busy';
import { storedForm } from './stored-form';
import { writeLane } from './write-lane';

/** The refusal of one document of a batch, shaped like a driver error (`code`, `message`). */
export class DocumentRefused extends Error {
  constructor(
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'DocumentRefused';
  }
}

interface Waiting<D> {
  doc: D;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Times the document was sent in a batch refused as busy. */
  busy: number;
  /** Its coalescing key, while it waits to be sent (see `coalesce`). */
  key?: string;
  /** When it began to wait (epoch ms): a deferrable batch's age (write-lane.ts W5). */
  since: number;
}

/** Where a document of a batch refused as busy stands, read back by its `_id`. */
export type ReadBack = 'written' | 'absent' | 'taken';

interface WriteErrorLike {
  index: number;
  code?: number;
  errmsg?: string;
}

/**
 * The per-document errors of an insertMany's failure, by index; undefined: none (the batch failed
 * as a whole, or a write concern was not met). An ordered insertMany has at most one (run-commit.ts).
 */
export function writeErrorsOf(err: unknown): Map<number, WriteErrorLike> | undefined {
  const e = err as { writeErrors?: unknown; writeConcernError?: unknown; result?: unknown } | null;
  // A write concern not met leaves every document of the batch unsure: none is answered as written.
  const result = e?.result as { getWriteConcernError?: () => unknown } | undefined;
  if (e?.writeConcernError || result?.getWriteConcernError?.()) return undefined;
  const raw = e?.writeErrors;
  if (raw === undefined) return undefined;
  const list = (Array.isArray(raw) ? raw : [raw]) as WriteErrorLike[];
  // No per-document error named: the failure is not one of documents, so it is the batch's.
  if (!list.length || !list.every((w) => typeof w?.index === 'number')) return undefined;
  return new Map(list.map((e) => [e.index, e]));
}

export class GroupCommit<D> {
  private waiting: Waiting<D>[] = [];
  private scheduled = false;
  /** Batches sent and documents in them (for tests and the bench's notes). */
  readonly stats = { batches: 0, documents: 0, largest: 0, busy: 0, coalesced: 0 };

  private readonly max: number;
  private readonly deferrable: boolean;
  private readonly inFlightMax: number;
  private readonly readBack?: (doc: D) => Promise<ReadBack>;
  /** Batches sent and not yet answered. */
  private inFlight = 0;

  constructor(
    /** Sends the documents as one unordered insertMany or bulkWrite (throws the driver's bulk write error). */
    private readonly insertMany: (docs: D[]) => Promise<unknown>,
    opts: {
      /** Documents per batch at most. */
      max?: number;
      /** Batches on their way at once at most; the next waits (and grows) meanwhile. */
      inFlight?: number;
      /** After a busy refusal: where each document stands; none given, the batch is sent again whole. */
      readBack?: (doc: D) => Promise<ReadBack>;
      /**
       * Writes where only the last one counts (a cache): a document whose key is already waiting
       * replaces it by `keep(waiting, next)`, and both callers settle with the one sent.
       */
      coalesce?: { key: (doc: D) => string; keep: (waiting: D, next: D) => D };
      /**
       * A cache's writes: each batch gives way in the write lane to requests' writes until its
       * oldest document has waited the lane's `deferMaxMs` (write-lane.ts W5).
       */
      deferrable?: boolean;
    } = {},
  ) {
    this.deferrable = opts.deferrable ?? false;
    this.max = opts.max ?? 64;
    this.inFlightMax = opts.inFlight ?? Infinity;
    this.readBack = opts.readBack;
    this.coalesce = opts.coalesce;
  }

  private readonly coalesce?: { key: (doc: D) => string; keep: (waiting: D, next: D) => D };
  /** Waiting documents by coalescing key (until their batch is sent). */
  private readonly waitingByKey = new Map<string, Waiting<D>>();

  /** Inserts `doc` with whatever else arrives in this turn; settles by `doc`'s own outcome. */
  insert(doc: D): Promise<void> {
    const key = this.coalesce?.key(doc);
    const waiting = key === undefined ? undefined : this.waitingByKey.get(key);
    if (waiting) {
      waiting.doc = this.coalesce!.keep(waiting.doc, doc);
      this.stats.coalesced++;
      return new Promise<void>((resolve, reject) => {
        const [resolved, rejected] = [waiting.resolve, waiting.reject];
        waiting.resolve = () => (resolved(), resolve());
        // The refusal of the one write both callers share, passed on as is (a driver error).
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        waiting.reject = (err) => (rejected(err), reject(err));
      });
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiting<D> = { doc, resolve, reject, busy: 0, key, since: Date.now() };
      if (key !== undefined) this.waitingByKey.set(key, w);
      this.enqueue(w);
    });
  }

  private enqueue(w: Waiting<D>): void {
    this.waiting.push(w);
    if (this.waiting.length >= this.max) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** True while a batch waits for the write lane (it is formed when the lane is given). */
  private laneAsked = false;

  /**
   * Sends waiting documents, up to `inFlight` batches at once. Each batch is formed when the
   * write lane (write-lane.ts) is given to it, so whatever arrived while the writes ahead were
   * sent goes in it (W2: it is sent under the same permit); without a lane that is at once. Its
   * outcome is handled after the lane is released (a busy pause never holds it: W4).
   */
  private flush(): void {
    while (!this.laneAsked && this.waiting.length && this.inFlight < this.inFlightMax) {
      this.laneAsked = true;
      this.inFlight++;
      void writeLane
        .run(
          async () => {
            this.laneAsked = false;
            const batch = this.take();
            return { batch, failure: await this.attempt(batch) };
          },
          this.deferrable ? { since: () => this.waiting[0]?.since ?? Date.now() } : undefined,
        )
        .then(({ batch, failure }) => this.settle(batch, failure))
        .finally(() => {
          this.inFlight--;
          this.flush();
        });
    }
  }

  /** The next batch: the first `max` waiting documents. */
  private take(): Waiting<D>[] {
    const batch = this.waiting.splice(0, this.max);
    for (const w of batch) if (w.key !== undefined) this.waitingByKey.delete(w.key);
    this.stats.batches++;
    this.stats.documents += batch.length;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    return batch;
  }

  /** Sends a batch; the error, if it failed. */
  private async attempt(batch: Waiting<D>[]): Promise<unknown> {
    try {
      await this.insertMany(batch.map((w) => w.doc));
      return undefined;
    } catch (err) {
      return err ?? new Error('batch failed');
    }
  }

  /** Answers each request of a sent batch by its own document's outcome. */
  private async settle(batch: Waiting<D>[], failure: unknown): Promise<void> {
    if (failure === undefined) {
      for (const w of batch) w.resolve();
      return;
    }
    const refused = writeErrorsOf(failure);
    if (!refused && isBusyError(failure)) return this.afterBusy(batch, failure);
    // Without per-document errors the batch as a whole failed: no request may assume success.
    if (!refused) {
      for (const w of batch) w.reject(failure);
      return;
    }
    batch.forEach((w, i) => {
      const e = refused.get(i);
      if (!e) w.resolve();
      else w.reject(new DocumentRefused(e.code, e.errmsg ?? `document ${i} of the batch refused`));
    });
  }

  /**
   * A batch refused as busy: each document read back (a lone document was not written: its
   * transaction rolled back), then answered, refused, or sent again after a pause.
   */
  private async afterBusy(batch: Waiting<D>[], failure: unknown): Promise<void> {
    const readBack = this.readBack;
    const stands = await Promise.all(
      batch.map(async (w): Promise<ReadBack | { error: unknown }> => {
        if (!readBack || batch.length === 1) return 'absent';
        return readBack(w.doc).catch((error: unknown) => ({ error }));
      }),
    );
    const again: Waiting<D>[] = [];
    batch.forEach((w, i) => {
      const stand = stands[i]!;
      if (stand === 'written') w.resolve();
      else if (stand === 'taken') w.reject(new DocumentRefused(11000, 'E11000 duplicate key'));
      else if (typeof stand === 'object') w.reject(stand.error);
      else if (++w.busy >= BUSY_ATTEMPTS) {
        busyStats.gaveUp++;
        w.reject(failure);
      } else again.push(w);
    });
    if (!again.length) return;
    this.stats.busy++;
    busyStats.retried += again.length;
    await busyPause(Math.max(...again.map((w) => w.busy)));
    for (const w of again) this.enqueue(w);
  }
}

/** Relaxed Extended JSON of a document with its keys sorted at every level (order aside, equal). */
function canonical(doc: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sort(o[k])]),
    );
  };
  return JSON.stringify(sort(BSON.EJSON.serialize(doc, { relaxed: true })));
}

/**
 * Where a sent document stands in a collection, read back by its `_id`: the stored document
 * equal to the sent one (as the database round-trips it) is this request's own write.
 */
export async function readBackById(
  find: (id: unknown) => Promise<unknown>,
  doc: Record<string, unknown>,
): Promise<ReadBack> {
  const stored = await find(doc._id);
  if (stored === null || stored === undefined) return 'absent';
  // The sent document as the driver stores it (an undefined member becomes null).
  const sent = BSON.deserialize(BSON.serialize(doc));
  return canonical(stored) === canonical(sent) ? 'written' : 'taken';
}

/**
 * Group commit into a mongoose model's collection: each document is checked against the schema
 * first (a malformed one fails its own request only; the batch goes to the driver as is).
 * `beforeSend` sees each batch just before it is sent (a test's fault hook). Not `batched`: one
 * `create` per document, as without group commit.
 */
export function modelInserts<T>(
  model: Model<T>,
  opts: { batched?: boolean; beforeSend?: (docs: Record<string, unknown>[]) => void } = {},
): {
  /** Inserts `doc`; resolves with the document as stored (cast to the schema) once it is written. */
  insert(doc: object): Promise<T>;
  stats: GroupCommit<unknown>['stats'];
} {
  const { batched = true, beforeSend } = opts;
  const batch = new GroupCommit<Record<string, unknown>>(
    async (docs) => {
      beforeSend?.(docs);
      await model.collection.insertMany(docs, { ordered: false });
    },
    { readBack: (doc) => readBackById((_id) => model.collection.findOne({ _id } as object), doc) },
  );
  return {
    stats: batch.stats,
    async insert(doc) {
      if (!batched) {
        const [created] = await model.create([doc]); // one insertOne: retried when busy (busy.ts)
        return created!.toObject({ depopulate: true }) as T;
      }
      // The model's form and checks, without building a mongoose document (stored-form.ts).
      const stored = await storedForm(model, doc);
      await batch.insert(stored);
      return stored as T;
    },
  };
}

/**
 * Writes of documents derived from a chain that say how far it has got (the ledger's account
 * cache, the chains' stored head hints): `$set` upserts by lone `_id`, sent as unordered
 * bulkWrites of at most SEQ_UPSERT_BATCH, one batch at a time. A write still waiting is replaced
 * by a newer one for the same `_id` (the higher `seq` is kept: only the newest head matters), so
 * under load the queue holds at most one write per document.
 *
 * Why so few at once: FerretDB 1.24 keeps each update statement's read cursor (a SQLite
 * connection of its pool of 100) open until the whole command ends (a `defer` in a loop,
 * handler/msg_update.go), so a command of n updates holds n + 1 connections; two of 64 at once
 * took all 100 and waited on each other for ever (found by the bench). Each kind's small batch,
 * one at a time, keeps the held connections far below the pool.
 *
 * A busy refusal sends the batch again (a `$set` repeats safely). A caller settles with its own
 * write's outcome; two first upserts of one `_id` at once refuse one as a duplicate key, which
 * the caller may ignore (the other wrote the document).
 */
export const SEQ_UPSERT_BATCH = 8;

export function seqUpserts<D extends { _id: string; seq: number }>(
  collection: () => Collection<D>,
): {
  write(id: string, set: Omit<D, '_id'>): Promise<void>;
  stats: GroupCommit<unknown>['stats'];
} {
  type Op = {
    updateOne: { filter: { _id: string }; update: { $set: Omit<D, '_id'> }; upsert: true };
  };
  const batch = new GroupCommit<Op>(
    async (ops) => {
      await collection().bulkWrite(ops as unknown as AnyBulkWriteOperation<D>[], {
        ordered: false,
      });
    },
    {
      max: SEQ_UPSERT_BATCH,
      inFlight: 1,
      deferrable: true,
      coalesce: {
        key: (op) => op.updateOne.filter._id,
        keep: (waiting, next) =>
          next.updateOne.update.$set.seq >= waiting.updateOne.update.$set.seq ? next : waiting,
      },
    },
  );
  return {
    stats: batch.stats,
    write: (id, set) =>
      batch.insert({ updateOne: { filter: { _id: id }, update: { $set: set }, upsert: true } }),
  };
}
