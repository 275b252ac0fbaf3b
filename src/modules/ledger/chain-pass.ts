/**
 * Every household's chain verified in one pass over the collections: `households` once (which
 * chains, in listing order), `ledger_accounts` once (each chain's witness) and `ledger_entries`
 * once, unfiltered and unsorted, through a raw driver cursor. On FerretDB a filter by household
 * scans the whole collection anyway, so checking chain by chain costs one scan (or thousands of
 * `_id` look-ups) per household; this costs one scan in all.
 *
 * The rules are chain-check.ts's, the same ones `verifyChain` applies to one household, and the
 * report is the same: per household its first problem in seq order, then a gap, then the account
 * cache as witness. What is held in memory grows with households, not entries: per chain the
 * next seq expected, the previous hash, the balances and the cache's (seq, hash). Entries that
 * arrive before their predecessor (storage order is usually seq order, but nothing promises it)
 * wait in that chain's buffer until it arrives.
 *
 * The accounts are read before the entries, so while the service keeps posting every entry a
 * cache names was stored before the entries' scan began (the cache is written after its entry).
 */
import type { FindCursor } from 'mongodb';
import { Account, Entry } from './ledger.model';
import {
  cacheWitnessProblem,
  chainEndProblem,
  chainStart,
  checkEntry,
  type ChainRule,
  type ChainState,
  type StoredEntry,
} from './chain-check';
import {
  GAP_PROBE_WINDOW,
  hashEntry,
  householdsWithEntries,
  toEntryView,
  ZERO_HASH,
  type ChainProblem,
} from './ledger.service';

/** Documents per cursor batch (as the bench's raw read). */
const SCAN_BATCH_SIZE = 1000;

const RULE: ChainRule = { toView: toEntryView, hash: hashEntry, zeroHash: ZERO_HASH };

export interface ChainPassOptions {
  /** Report every broken chain instead of the first one in listing order. */
  keepGoing?: boolean;
  /** Called every `progressEvery` entries read, with the number read so far. */
  onEntries?: (read: number) => void;
  progressEvery?: number;
}

export interface ChainPassReport {
  /** Chains checked: every household listed, or up to and including the first broken one. */
  verified: number;
  /** Broken chains in listing order: the first one only, unless `keepGoing`. */
  problems: ChainProblem[];
  /** Entries read by the scan (all of them, including those of households not listed). */
  entriesRead: number;
}

/**
 * One household's chain during the pass. Every field is set from the start and cleared with
 * `undefined`, never `delete`d, so all chains share one object shape (V8 keeps them compact).
 */
interface PassChain extends ChainState {
  /** Position in the households' listing. */
  index: number;
  /** The account cache's (seq, hash) while it still has to be compared, if there is a cache. */
  cache: { seq: number; hash: string } | undefined;
  /** The cache's verdict once the chain reached the cache's seq (null: it matched). */
  witness: string | null | undefined;
  /** Entries that arrived before their predecessor, by seq. */
  waiting: Map<number, StoredEntry> | undefined;
  /** The chain's first problem (at `seq`); the chain is then left alone. */
  problem: string | undefined;
}

function newChain(index: number): PassChain {
  return {
    ...chainStart(RULE),
    index,
    cache: undefined,
    witness: undefined,
    waiting: undefined,
    problem: undefined,
  };
}

/**
 * A cursor's documents a server batch at a time, the next batch asked for before the current one
 * is handed over: the database reads and encodes while this process hashes (two CPUs at work
 * instead of one after the other).
 */
async function* prefetched<T>(cursor: FindCursor<T>): AsyncGenerator<T[]> {
  const nextBatch = async (): Promise<T[] | undefined> => {
    const first = await cursor.next();
    return first === null ? undefined : [first, ...cursor.readBufferedDocuments()];
  };
  let pending = nextBatch();
  try {
    for (;;) {
      const batch = await pending;
      if (!batch) return;
      pending = nextBatch();
      // Let the request go out before the batch is worked through.
      await new Promise((resolve) => setImmediate(resolve));
      yield batch;
    }
  } finally {
    await pending.catch(() => undefined);
    await cursor.close();
  }
}

/** (householdId, seq) from an entry's `_id` when it is exactly `<householdId>:<seq>`, seq ≥ 1. */
function position(id: unknown): { householdId: string; seq: number } | undefined {
  if (typeof id !== 'string') return undefined;
  const colon = id.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const text = id.slice(colon + 1);
  const seq = Number(text);
  if (!Number.isSafeInteger(seq) || seq < 1 || String(seq) !== text) return undefined;
  return { householdId: id.slice(0, colon), seq };
}

/** Every listed household's chain before the scan, in listing order, with its account cache. */
async function listChains(): Promise<Map<string, PassChain>> {
  const chains = new Map<string, PassChain>();
  for await (const householdId of householdsWithEntries())
    chains.set(householdId, newChain(chains.size));
  for await (const doc of Account.collection.find(
    {},
    { projection: { seq: 1, hash: 1 }, batchSize: SCAN_BATCH_SIZE },
  )) {
    const chain = chains.get(String(doc._id));
    if (chain) chain.cache = { seq: doc.seq as number, hash: doc.hash as string };
  }
  return chains;
}

/** The scan's side: each stored entry offered once, in whatever order storage gives them. */
class EntryScan {
  /** Without keepGoing, only chains listed up to the first broken one matter. */
  cutoff: number;

  constructor(
    private readonly chains: Map<string, PassChain>,
    private readonly keepGoing: boolean,
  ) {
    this.cutoff = keepGoing ? Infinity : chains.size;
  }

  offer(raw: { _id: unknown }): void {
    const at = position(raw._id);
    if (!at) return; // no `_id` look-up would ever read it: not part of any chain
    const chain = this.chains.get(at.householdId);
    if (!chain || chain.problem !== undefined || chain.index > this.cutoff) return;
    const doc = raw as unknown as StoredEntry;
    if (at.seq !== chain.seq) {
      if (at.seq > chain.seq) (chain.waiting ??= new Map()).set(at.seq, doc);
      return;
    }
    if (!this.step(at.householdId, chain, doc)) return;
    while (chain.waiting?.size) {
      const next = chain.waiting.get(chain.seq);
      if (!next) break;
      chain.waiting.delete(chain.seq);
      if (!this.step(at.householdId, chain, next)) break;
    }
    if (chain.waiting?.size === 0) chain.waiting = undefined;
  }

  /** The entry at the chain's next seq: the rules, then the cache's word if it names this seq. */
  private step(householdId: string, chain: PassChain, doc: StoredEntry): boolean {
    const seq = chain.seq;
    const problem = checkEntry(chain, householdId, doc, RULE);
    if (problem) {
      chain.problem = problem;
      chain.waiting = undefined;
      chain.cache = undefined;
      if (!this.keepGoing && chain.index < this.cutoff) this.cutoff = chain.index;
      return false;
    }
    if (chain.cache && chain.cache.seq === seq) {
      chain.witness = cacheWitnessProblem(householdId, chain.cache, doc) ?? null;
      if (!chain.witness) chain.cache = undefined;
    }
    return true;
  }
}

/**
 * Verifies every listed household's chain in one pass. Without `keepGoing`, the report holds
 * the first broken chain in listing order, as checking household by household would find it.
 */
export async function verifyAllChains(opts: ChainPassOptions = {}): Promise<ChainPassReport> {
  const chains = await listChains();
  const scan = new EntryScan(chains, Boolean(opts.keepGoing));
  const every = opts.progressEvery ?? 100_000;
  let read = 0;
  const cursor = Entry.collection.find({}, { batchSize: SCAN_BATCH_SIZE });
  for await (const batch of prefetched(cursor)) {
    for (const raw of batch) {
      if (++read % every === 0) opts.onEntries?.(read);
      scan.offer(raw);
    }
  }
  const report: ChainPassReport = { verified: 0, problems: [], entriesRead: read };
  for (const [householdId, chain] of chains) {
    if (chain.index > scan.cutoff) break;
    report.verified++;
    const problem = concluded(householdId, chain);
    if (!problem) continue;
    report.problems.push(problem);
    if (!opts.keepGoing) break;
  }
  return report;
}

/** A chain's verdict after the scan: its first problem, a gap, or the cache's witness. */
function concluded(householdId: string, chain: PassChain): ChainProblem | undefined {
  if (chain.problem !== undefined) return { householdId, seq: chain.seq, problem: chain.problem };
  // Entries stored past the first missing seq. `verifyChain` probes GAP_PROBE_WINDOW seqs past
  // the end and then asks the cache; the scan sees every stray entry, so one further out is
  // reported too, after the cache's word.
  let first: StoredEntry | undefined;
  let firstSeq = Infinity;
  for (const [seq, doc] of chain.waiting ?? []) {
    if (seq < firstSeq) [firstSeq, first] = [seq, doc];
  }
  const near = firstSeq <= chain.seq + GAP_PROBE_WINDOW ? first : undefined;
  const gap =
    chainEndProblem(chain, near?.seq, near ? undefined : chain.cache?.seq) ??
    (first ? chainEndProblem(chain, first.seq, undefined) : undefined);
  if (gap) return { householdId, seq: chain.seq, problem: gap };
  const cache = chain.cache;
  if (!cache || cache.seq === 0) return undefined;
  // The cache named a seq the chain never reached (not a seq 1…end), or an entry it holds.
  const witness =
    chain.witness === undefined
      ? cacheWitnessProblem(householdId, cache, undefined)
      : chain.witness;
  return witness ? { householdId, seq: cache.seq, problem: witness } : undefined;
}
