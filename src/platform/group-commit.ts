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
 */

import type { Model } from 'mongoose';

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
}

interface WriteErrorLike {
  index: number;
  code?: number;
  errmsg?: string;
}

/** The per-document errors of an unordered insertMany's failure, by index; undefined: none. */
function writeErrorsOf(err: unknown): Map<number, WriteErrorLike> | undefined {
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
  readonly stats = { batches: 0, documents: 0, largest: 0 };

  constructor(
    /** Sends the documents as one unordered insertMany or bulkWrite (throws the driver's bulk write error). */
    private readonly insertMany: (docs: D[]) => Promise<unknown>,
    /** Documents per batch at most. */
    private readonly max = 64,
  ) {}

  /** Inserts `doc` with whatever else arrives in this turn; settles by `doc`'s own outcome. */
  insert(doc: D): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ doc, resolve, reject });
      if (this.waiting.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.waiting;
    if (!batch.length) return;
    this.waiting = [];
    this.stats.batches++;
    this.stats.documents += batch.length;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    void this.send(batch);
  }

  private async send(batch: Waiting<D>[]): Promise<void> {
    let failure: unknown;
    try {
      await this.insertMany(batch.map((w) => w.doc));
    } catch (err) {
      failure = err;
    }
    if (failure === undefined) {
      for (const w of batch) w.resolve();
      return;
    }
    const refused = writeErrorsOf(failure);
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
): { insert(doc: object): Promise<void>; stats: GroupCommit<unknown>['stats'] } {
  const { batched = true, beforeSend } = opts;
  const batch = new GroupCommit<Record<string, unknown>>(async (docs) => {
    beforeSend?.(docs);
    await model.collection.insertMany(docs, { ordered: false });
  });
  return {
    stats: batch.stats,
    async insert(doc) {
      if (!batched) {
        await model.create([doc]);
        return;
      }
      const checked = new model(doc);
      const invalid = checked.validateSync();
      if (invalid) throw invalid;
      await batch.insert(checked.toObject({ depopulate: true }) as Record<string, unknown>);
    },
  };
}
