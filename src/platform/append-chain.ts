/**
 * Append-only chains arbitrated by unique indexes (FerretDB 1.x has no transactions and no atomic
 * conditional `$inc`). `appendLink` (append-link.ts) is the one loop (build the next link on the
 * head, insert it under a unique index, on a refusal re-read the head and retry with jitter) under
 * the ledger, rule versions, overrides, cap claims; `AppendChain`: stock, allowances, PINs, hours,
 * rosters, townships.
 *
 * A chain is a run of links (chain, seq = 1, 2, 3, …), each computed from the one before it:
 * - C1 a link's `_id` is `<chain>#<seq>`, so (chain, seq) is unique: two writers that read the
 *   same head both try seq = head + 1; exactly one insert wins, the other re-reads the head and
 *   recomputes (so a bound checked against the head holds under any race, across processes).
 * - C2 (sourceType, sourceId) is unique (index `source_unique`, which every chain collection
 *   declares with `chainIndexes`): a source appends at most one link however often it is
 *   retried; a retry gets the link appended the first time (`created: false`).
 * - C3 links are never updated or deleted.
 * - C4 a head read from a hint (memory, a cache document) is never trusted to refuse or to
 *   settle: a refusal built on one, or an insert it made collide, is redone from the next,
 *   more authoritative reading, and only the last reading (the chain itself) decides.
 *
 * Reads go by `_id` only, because FerretDB 1.x answers any other filter by scanning the whole
 * collection (an `_id` look-up is indexed through the launcher's own index). So the head
 * is found from a hint (held in memory per process; `chain_heads`, written after every eighth
 * link, never ahead of the chain) by walking forward `<chain>#<seq+1>` until none exists, and a
 * source's link through a pointer (`chain_sources`, written after the link, unless the caller
 * keeps the link's id itself). Both are caches: a missing one costs look-ups or one scan.
 */
import type { Collection } from 'mongodb';
import mongoose, { Schema, type Model } from 'mongoose';
import { inBackground } from './background';
import { findLeanById, registerHints } from './db';
import { isDuplicateKeyError } from './errors';
import { appendLink } from './append-link';
import { ChainQueue } from './chain-queue';
import { modelInserts, seqUpserts } from './group-commit';

/** Fields every link has; a chain adds its own payload (amounts, kinds, …). */
export interface ChainLink {
  /** `<chain>#<seq>` */
  _id: string;
  chain: string;
  seq: number;
  sourceType: string;
  sourceId: string;
  createdAt: Date;
}

/** Schema fields for `ChainLink`; spread them into a chain collection's schema. */
export const chainLinkFields = {
  _id: { type: String, required: true },
  chain: { type: String, required: true },
  seq: { type: Number, required: true },
  sourceType: { type: String, required: true },
  sourceId: { type: String, required: true },
  createdAt: { type: Date, required: true },
} as const;

/** Declares the unique source index (C2); (chain, seq) is unique through `_id` (C1). */
export function chainIndexes(schema: Schema): void {
  schema.index({ sourceType: 1, sourceId: 1 }, { unique: true, name: 'source_unique' });
}

export const linkId = (chain: string, seq: number): string => `${chain}#${seq}`;

export { appendLink, NothingToAppend, type AppendSpec, type HeadReading } from './append-link';

type ChainHeadDoc = { _id: string; seq: number; updatedAt: Date };
/** `_id`: `<kind>|<sourceType>|<sourceId>` */
type ChainSourceDoc = { _id: string; linkId: string };

type Fields = Record<string, unknown>;
function cacheModel<T>(name: string, collection: string, fields: Fields): Model<T> {
  return (
    (mongoose.models[name] as Model<T> | undefined) ??
    mongoose.model<T>(name, new Schema(fields, { collection, versionKey: false }))
  );
}

const ChainHead = cacheModel<ChainHeadDoc>('ChainHead', 'chain_heads', {
  _id: { type: String, required: true },
  seq: { type: Number, required: true },
  updatedAt: { type: Date, required: true },
});
const ChainSource = cacheModel<ChainSourceDoc>('ChainSource', 'chain_sources', {
  _id: { type: String, required: true },
  linkId: { type: String, required: true },
});

/** The stored head hints' writes, batched and coalesced per chain (all kinds share one queue). */
const hintWrites = seqUpserts<ChainHeadDoc>(
  () => ChainHead.collection as unknown as Collection<ChainHeadDoc>,
);

/** Links between writes of the stored head hint (`chain_heads`). */
const HINT_EVERY = 8;

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
  private readonly queue = new ChainQueue();
  constructor(
    private readonly model: Model<L>,
    /** Distinguishes this kind's hints and pointers in the shared cache collections. */
    private readonly kind: string,
    /** Links of concurrent appends as one unordered insertMany, each refused alone (C1, C2). */
    opts: { groupCommit?: boolean } = {},
    private readonly inserts = modelInserts(model, { batched: opts.groupCommit ?? false }),
  ) {}

  private sourceKey(source: { type: string; id: string }): string {
    return `${this.kind}|${source.type}|${source.id}`;
  }

  /** A link by its `_id` (`<chain>#<seq>`), e.g. one whose id its source's owner recorded. */
  async byId(id: string): Promise<L | undefined> {
    return (await findLeanById<L>(this.model, id)) ?? undefined;
  }

  /** The link a source appended, if any (through the pointer; by scan when only the pointer is missing). */
  async findBySource(
    source: { type: string; id: string },
    scanIfNoPointer = false,
  ): Promise<L | undefined> {
    const pointer = await findLeanById<ChainSourceDoc>(ChainSource, this.sourceKey(source));
    if (pointer) return this.byId(pointer.linkId);
    if (!scanIfNoPointer) return undefined;
    const link =
      ((await this.model
        .findOne({ sourceType: source.type, sourceId: source.id })
        .lean()) as L | null) ?? undefined;
    if (link) await this.writePointer(source, link._id);
    return link;
  }

  private async writePointer(source: { type: string; id: string }, id: string): Promise<void> {
    await ChainSource.updateOne(
      { _id: this.sourceKey(source) },
      { $set: { linkId: id } },
      { upsert: true },
    ).catch((err: unknown) => {
      if (!isDuplicateKeyError(err)) throw err; // written meanwhile, with the same value
    });
  }

  /** The newest link of a chain (undefined when the chain is empty). */
  async head(chain: string): Promise<L | undefined> {
    const hint = await findLeanById<ChainHeadDoc>(ChainHead, `${this.kind}|${chain}`);
    let head: L | undefined;
    if (hint && hint.seq > 0) {
      head = await this.byId(linkId(chain, hint.seq));
      // A hint naming a link that does not exist was altered by hand: walk from the start.
    }
    for (;;) {
      const next = await this.byId(linkId(chain, (head?.seq ?? 0) + 1));
      if (!next) return head;
      head = next;
    }
  }

  /**
   * Moves the stored hint, by lone `_id` (FerretDB scans for `seq: {$lt}`), with the other hint
   * writes of the moment as one bulkWrite (group-commit.ts seqUpserts). Another process's slower
   * write may move it back; that is harmless (the walk goes forward from it).
   */
  private async advanceHint(chain: string, seq: number): Promise<void> {
    await hintWrites
      .write(`${this.kind}|${chain}`, { seq, updatedAt: new Date() })
      .catch((err: unknown) => {
        if (!isDuplicateKeyError(err)) throw err; // two first upserts at once: either will do
      });
  }

  /**
   * Heads held in memory: the link this process last read or appended at a chain's head, or
   * undefined for a chain read empty; never ahead of the chain (links are never deleted;
   * forgotten on connecting, see db.ts). A stale one costs a retry (its seq + 1 insert is refused
   * by `_id`); a refusal built on one is rechecked (C4). */
  private readonly heads = registerHints(new Map<string, L | undefined>());
  private static readonly HEADS_MAX = 50_000;
  private remember(chain: string, link: L | undefined): void {
    this.heads.delete(chain);
    this.heads.set(chain, link);
    if (this.heads.size > AppendChain.HEADS_MAX) this.heads.delete(this.heads.keys().next().value!);
  }

  /**
   * Reads a chain's head into memory ahead of an append about to come (a redemption's take of the
   * day's allowance, read while its basket is priced), so the append does not wait for the reads.
   * Reads only. A head already held, or one remembered while this read, is kept: it is as new.
   */
  async warm(chain: string): Promise<void> {
    if (this.heads.has(chain)) return;
    const head = await this.head(chain);
    if (!this.heads.has(chain)) this.remember(chain, head);
  }

  /**
   * Appends one link computed from the head, exactly once per source (C1, C2). Throws what
   * `build` throws, having written nothing.
   */
  async append(
    chain: string,
    source: { type: string; id: string },
    build: (head: L | undefined) => LinkPayload<L>,
    /**
     * `fresh`: the caller has not appended under this source before (a redemption's own take),
     * so no look-up by source up front (C2 still holds: the source index refuses a second link).
     * `pointer: false`: the caller records the link's id, so no `chain_sources` pointer is written.
     * `emptyIfUnknown`: a chain this process holds no head of is most likely empty (a household's
     * first redemption of the day at a store): the first link is built on an empty head without a
     * read. A guess like any hint: if the chain has links, the unique `_id` refuses seq 1 and the
     * chain is read; a refusal built on the guess is decided again on the chain's head (C4).
     */
    opts: { fresh?: boolean; pointer?: boolean; emptyIfUnknown?: boolean } = {},
  ): Promise<AppendResult<L>> {
    const existing = opts.fresh ? undefined : await this.findBySource(source);
    if (existing) return { link: existing, created: false };
    const waited = this.queue.busy(chain);
    return this.queue.run(chain, async () => {
      // A request queued behind another one with the same source (two reversals of one
      // redemption) finds its link here instead of building on a head that already holds it. A
      // fresh source has no other request (its caller owns it), so nothing to look for.
      const appended = waited && !opts.fresh ? await this.findBySource(source) : undefined;
      if (appended) return { link: appended, created: false };
      return appendLink<L, L, AppendResult<L>>({
        heads: [
          // The head held in memory, or (a guess, `emptyIfUnknown`) an empty chain.
          () => {
            const known = this.heads.has(chain) || opts.emptyIfUnknown;
            return Promise.resolve(known ? { head: this.heads.get(chain) } : undefined);
          },
          async () => {
            const head = await this.head(chain);
            this.remember(chain, head);
            return { head };
          },
        ],
        build: (head) => this.linkOn(chain, source, head, build(head)),
        insert: async (link) => {
          await this.inserts.insert(link);
        },
        appendedBefore: async (link) => {
          // The error does not say which index refused, so look: links are never deleted, so a
          // free seq slot means the source index refused us.
          const slotTaken = await this.byId(link._id);
          const before = await this.findBySource(source, !slotTaken);
          return before && { link: before, created: false };
        },
        forget: () => this.heads.delete(chain),
        committed: async (link) => {
          this.remember(chain, link);
          if (opts.pointer !== false) await this.writePointer(source, link._id);
          // The stored hint every HINT_EVERY links, not waited for: a process without the head
          // in memory walks at most that many `_id` look-ups past it (more if one is lost).
          const hint = () => this.advanceHint(chain, link.seq);
          if (link.seq % HINT_EVERY === 0) inBackground('chain head hint', hint);
          return { link, created: true };
        },
        busy: 'This record is busy; retry shortly.',
      });
    });
  }

  private linkOn(
    chain: string,
    source: { type: string; id: string },
    head: L | undefined,
    payload: LinkPayload<L>,
  ): L {
    const seq = (head?.seq ?? 0) + 1;
    return {
      ...payload,
      _id: linkId(chain, seq),
      chain,
      seq,
      sourceType: source.type,
      sourceId: source.id,
      createdAt: new Date(),
    } as L;
  }

  /** Links after `afterSeq`, oldest first, by `_id` look-ups (bounded by `limit`). */
  async list(
    chain: string,
    afterSeq: number,
    limit: number,
  ): Promise<{ items: L[]; next: number | null }> {
    const ids = Array.from({ length: limit + 1 }, (_, i) => linkId(chain, afterSeq + 1 + i));
    const docs = ((await this.model.find({ _id: { $in: ids } }).lean()) as L[]).sort(
      (a, b) => a.seq - b.seq,
    );
    const items = docs.slice(0, limit);
    return { items, next: docs.length > limit ? items[items.length - 1]!.seq : null };
  }
}
