/**
 * Group commit of runs: a run is several links of ONE chain, each built on the one before it
 * (a household's postings that waited for each other, ledger.posting.ts). A link whose
 * predecessor was not written must never be written (its `prevHash` and balances name a link
 * that does not exist), so a run cannot go in an unordered batch (group-commit.ts): the runs
 * handed in during one turn of the event loop go to the database as ONE ordered insertMany, which
 * writes the documents in order and stops at the first it refuses. So:
 *
 * - RC1 what is written is a prefix of the batch: every run gets `written`, the count of its
 *   leading documents written, and never a document after one that was not.
 * - RC2 the document the database refused (a unique index: a stale head, or the source posted
 *   before) ends its run there with that error; the caller decides the rest of the run one link
 *   at a time, as without runs. Runs after it in the batch were not attempted: they are sent
 *   again with the next batch, unchanged.
 * - RC3 a batch that failed as a whole (busy, the connection) is read back by `_id` (readBack):
 *   each run's written prefix is answered as written; a run none of whose documents was written
 *   is sent again after a pause (busy) or ended with the failure after BUSY_ATTEMPTS; a read-back
 *   that fails ends every run of the batch with the failure (written: 0), which the caller
 *   treats as not knowing: the same source retried finds what was written (C2 of append-chain.ts).
 * - RC4 a run's documents are never changed or re-ordered; each run is answered once.
 *
 * Every write goes through the write lane (write-lane.ts) like any other.
 */
import { BUSY_ATTEMPTS, busyPause, busyStats, isBusyError } from './busy';
import { writeErrorsOf, type ReadBack } from './group-commit';
import { writeLane } from './write-lane';

export interface RunOutcome {
  /** Leading documents of the run written (RC1). */
  written: number;
  /** Why the document after them was not: the database's refusal or the batch's failure. */
  error?: unknown;
}

interface WaitingRun<D> {
  docs: D[];
  resolve: (outcome: RunOutcome) => void;
  /** Times the run was sent in a batch that failed as a whole with nothing of it written. */
  attempts: number;
}

/** The index of the document an ordered insertMany refused, from the driver's error. */
function refusedIndex(err: unknown): number | undefined {
  const refused = writeErrorsOf(err);
  return refused ? Math.min(...refused.keys()) : undefined;
}

export class RunCommit<D> {
  private waiting: WaitingRun<D>[] = [];
  private scheduled = false;
  private sending = false;
  /** Batches sent, runs and documents in them, the largest run (tests and the bench). */
  readonly stats = { batches: 0, runs: 0, documents: 0, largestRun: 0 };

  constructor(
    /** Sends the documents as ONE ordered insertMany (throws the driver's bulk write error). */
    private readonly insertOrdered: (docs: D[]) => Promise<unknown>,
    /** Where a document of a batch that failed as a whole stands, read back by `_id`. */
    private readonly readBack: (doc: D) => Promise<ReadBack>,
  ) {}

  /** Inserts a run (at least one document), with the runs handed in this turn (RC1–RC4). */
  insert(docs: D[]): Promise<RunOutcome> {
    return new Promise((resolve) => {
      this.waiting.push({ docs, resolve, attempts: 0 });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.sending) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Sends every waiting run as one ordered batch, one batch at a time. */
  private async flush(): Promise<void> {
    if (this.sending || !this.waiting.length) return;
    this.sending = true;
    let batch: WaitingRun<D>[] = [];
    let failure: unknown;
    try {
      // The batch is formed when the lane is given, so runs handed in meanwhile go with it.
      failure = await writeLane.run(async () => {
        batch = this.waiting;
        this.waiting = [];
        this.stats.batches++;
        for (const r of batch) {
          this.stats.runs++;
          this.stats.documents += r.docs.length;
          this.stats.largestRun = Math.max(this.stats.largestRun, r.docs.length);
        }
        try {
          await this.insertOrdered(batch.flatMap((r) => r.docs));
          return undefined;
        } catch (err) {
          return err ?? new Error('batch failed');
        }
      });
      await this.settle(batch, failure);
    } finally {
      this.sending = false;
      if (this.waiting.length) this.schedule();
    }
  }

  private async settle(batch: WaitingRun<D>[], failure: unknown): Promise<void> {
    if (failure === undefined) {
      for (const r of batch) r.resolve({ written: r.docs.length });
      return;
    }
    const refused = refusedIndex(failure);
    if (refused !== undefined) {
      // RC1, RC2: runs before the refused document written; its run ends there; the rest again.
      let start = 0;
      const again: WaitingRun<D>[] = [];
      for (const r of batch) {
        const end = start + r.docs.length;
        if (end <= refused) r.resolve({ written: r.docs.length });
        else if (start <= refused) r.resolve({ written: refused - start, error: failure });
        else again.push(r);
        start = end;
      }
      this.waiting = [...again, ...this.waiting];
      return;
    }
    await this.afterFailure(batch, failure);
  }

  /** RC3: a batch that failed as a whole, read back document by document. */
  private async afterFailure(batch: WaitingRun<D>[], failure: unknown): Promise<void> {
    let stands: ReadBack[][];
    try {
      stands = await Promise.all(
        batch.map((r) => Promise.all(r.docs.map((d) => this.readBack(d)))),
      );
    } catch {
      for (const r of batch) r.resolve({ written: 0, error: failure });
      return;
    }
    const again: WaitingRun<D>[] = [];
    batch.forEach((r, i) => {
      const s = stands[i]!;
      let written = 0;
      while (written < s.length && s[written] === 'written') written++;
      if (written > 0 || s[0] === 'taken') r.resolve({ written, error: failure });
      else if (isBusyError(failure) && ++r.attempts < BUSY_ATTEMPTS) again.push(r);
      else {
        if (isBusyError(failure)) busyStats.gaveUp++;
        r.resolve({ written: 0, error: failure });
      }
    });
    if (!again.length) return;
    busyStats.retried += again.length;
    // The pause holds neither the lane nor the next batch (W4): the runs rejoin the queue after it.
    void busyPause(Math.max(...again.map((r) => r.attempts))).then(() => {
      this.waiting = [...again, ...this.waiting];
      this.schedule();
    });
  }
}
