/**
 * Append-only chains arbitrated by unique indexes: the pattern of the ledger, for the other
 * counters that must never cross a bound without transactions (FerretDB 1.x has none, and a
 * conditional `$inc` is not atomic there). Used for stock per item, a household's daily
 * redemption allowance per store, and PIN attempts per card.
 *
 * A chain is a run of links (chain, seq = 1, 2, 3, …), each computed from the one before it.
 * Invariants, held by the indexes every chain collection must declare (`chainIndexes`):
 * - C1 (chain, seq) is unique: two writers that read the same head both try seq = head + 1;
 *   exactly one insert wins, the other re-reads the head and recomputes (so a bound checked
 *   against the head holds under any race, across processes too).
 * - C2 (sourceType, sourceId) is unique: a source appends at most one link however often it is
 *   retried; a retry gets the link appended the first time (`created: false`). Every link has a
 *   source (a unique index would treat a missing one as null and refuse the second).
 * - C3 links are never updated or deleted. `chain_heads` only caches where a chain's head is;
 *   it is written after the link, never ahead of the chain, and a lagging hint only costs a
 *   few look-ups (the head is found by walking forward from it by exact (chain, seq) reads,
 *   because FerretDB 1.x does not push `sort().limit(1)` down to its backend).
 */
import mongoose, { Schema, type Model } from 'mongoose';
import { DomainError, isDuplicateKeyError } from './errors';

/** Fields every link has; a chain adds its own payload (amounts, kinds, …). */
export interface ChainLink {
  chain: string;
  seq: number;
  sourceType: string;
  sourceId: string;
  createdAt: Date;
}

/** Schema fields for `ChainLink`; spread them into a chain collection's schema. */
export const chainLinkFields = {
  chain: { type: String, required: true },
  seq: { type: Number, required: true },
  sourceType: { type: String, required: true },
  sourceId: { type: String, required: true },
  createdAt: { type: Date, required: true },
} as const;

/** Declares the two unique indexes that are the chain's locks (C1, C2). */
export function chainIndexes(schema: Schema): void {
  schema.index({ chain: 1, seq: 1 }, { unique: true, name: 'chain_seq_unique' });
  schema.index({ sourceType: 1, sourceId: 1 }, { unique: true, name: 'source_unique' });
}

interface ChainHeadDoc {
  _id: string;
  seq: number;
  updatedAt: Date;
}

const ChainHead: Model<ChainHeadDoc> =
  (mongoose.models.ChainHead as Model<ChainHeadDoc> | undefined) ??
  mongoose.model<ChainHeadDoc>(
    'ChainHead',
    new Schema<ChainHeadDoc>(
      { _id: { type: String, required: true }, seq: { type: Number, required: true }, updatedAt: { type: Date, required: true } },
      { collection: 'chain_heads', versionKey: false },
    ),
  );

/** Attempts before an append under extreme contention gives up with 503. */
const APPEND_ATTEMPTS_MAX = 200;

export type LinkPayload<L extends ChainLink> = Omit<L, keyof ChainLink>;

export interface AppendResult<L> {
  link: L;
  /** False when the source had already appended; `link` is that first link. */
  created: boolean;
}

/**
 * One kind of chain, stored in one collection. `build(head)` computes the next link's payload
 * from the current head (undefined for an empty chain) and may throw a DomainError to refuse
 * (e.g. `out_of_stock`); a refusal writes nothing.
 */
export class AppendChain<L extends ChainLink> {
  /** Serialises appends to one chain inside this process (a queue instead of N² retries). */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly model: Model<L>,
    /** Distinguishes this kind's hints in `chain_heads`. */
    private readonly kind: string,
  ) {}

  private hintId(chain: string): string {
    return `${this.kind}:${chain}`;
  }

  private inQueue<T>(chain: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(chain) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(chain, tail);
    void tail.then(() => {
      if (this.queues.get(chain) === tail) this.queues.delete(chain);
    });
    return run;
  }

  /** The link a source appended, if any. */
  async findBySource(source: { type: string; id: string }): Promise<L | undefined> {
    return ((await this.model.findOne({ sourceType: source.type, sourceId: source.id }).lean()) as L | null) ?? undefined;
  }

  /** The newest link of a chain (undefined when the chain is empty). */
  async head(chain: string): Promise<L | undefined> {
    const hint = await ChainHead.findById(this.hintId(chain)).lean<ChainHeadDoc>();
    let head: L | undefined;
    if (hint && hint.seq > 0) {
      head = ((await this.model.findOne({ chain, seq: hint.seq }).lean()) as L | null) ?? undefined;
      // A hint naming a link that does not exist was altered by hand: find the head the slow way.
      if (!head) head = ((await this.model.findOne({ chain }).sort({ seq: -1 }).lean()) as L | null) ?? undefined;
    }
    for (;;) {
      const next = (await this.model.findOne({ chain, seq: (head?.seq ?? 0) + 1 }).lean()) as L | null;
      if (!next) return head;
      head = next;
    }
  }

  /** Moves the hint forward; a stale write that moves it back is harmless (walk forward). */
  private async advanceHint(chain: string, seq: number): Promise<void> {
    try {
      await ChainHead.updateOne({ _id: this.hintId(chain), seq: { $lt: seq } }, { $set: { seq, updatedAt: new Date() } }, { upsert: true });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err; // the hint is already at or past seq
    }
  }

  /**
   * Appends one link computed from the head, exactly once per source (C1, C2). Throws what
   * `build` throws, having written nothing.
   */
  async append(chain: string, source: { type: string; id: string }, build: (head: L | undefined) => LinkPayload<L>): Promise<AppendResult<L>> {
    const existing = await this.findBySource(source);
    if (existing) return { link: existing, created: false };
    return this.inQueue(chain, async () => {
      for (let attempt = 1; attempt <= APPEND_ATTEMPTS_MAX; attempt++) {
        const head = await this.head(chain);
        const payload = build(head);
        const link = { ...payload, chain, seq: (head?.seq ?? 0) + 1, sourceType: source.type, sourceId: source.id, createdAt: new Date() } as L;
        try {
          await this.model.create([link]);
        } catch (err) {
          if (!isDuplicateKeyError(err)) throw err;
          // Either another writer took this seq (recompute from the new head) or this source
          // appended meanwhile (return that link: C2).
          const appended = await this.findBySource(source);
          if (appended) return { link: appended, created: false };
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 2)));
          continue;
        }
        await this.advanceHint(chain, link.seq);
        return { link, created: true };
      }
      throw new DomainError('unavailable', 'This record is busy; retry shortly.');
    });
  }

  /** Links after `afterSeq`, oldest first, by exact seq look-ups (bounded by `limit`). */
  async list(chain: string, afterSeq: number, limit: number): Promise<{ items: L[]; next: number | null }> {
    const docs = (await this.model
      .find({ chain, seq: { $gt: afterSeq, $lte: afterSeq + limit + 1 } })
      .sort({ seq: 1 })
      .lean()) as L[];
    const items = docs.slice(0, limit);
    return { items, next: docs.length > limit ? items[items.length - 1]!.seq : null };
  }
}
