/**
 * The ledger: one append-only, hash-chained chain of entries per household. Every feature that
 * moves points calls one of the verbs (award, deduct, redeem, reverse, adjust: ledger.verbs.ts),
 * each of which posts through `postEntry` (ledger.posting.ts); nothing else writes entries. This
 * file is the module's face: it re-exports those and holds the reads (account, pages, checks).
 *
 * Invariants (each enforced in this module and tested in test/modules/ledger):
 * - I1 `seq` runs 1, 2, 3, … per household with no gap and no duplicate. The unique index
 *   (householdId, seq) arbitrates races: the loser re-reads the head and retries. Entries
 *   built one on another (a run, ledger.posting.ts) are inserted in order and stop at the first
 *   one refused, so an entry never lands after one that was not written (run-commit.ts RC1).
 * - I2 `spendableAfter` = previous + `spendableDelta` ≥ 0 and `meritAfter` = previous +
 *   `meritDelta`. An award raises both; a redemption lowers spendable only; a deduction lowers
 *   merit by its full amount and spendable by at most what is left (the rule of every type is
 *   one table, ledger.rules.ts, asserted by `postEntry` before it writes).
 * - I3 a source (type + id) posts at most once: unique index on the source; a retry gets the
 *   entry that was posted the first time.
 * - I4 the chain verifies: `hash` = SHA-256 of the RFC 8785 canonical JSON of the entry as the
 *   entries endpoint returns it, with `householdId` added and `hash` left out; `prevHash` links
 *   to the previous entry (64 zeros for seq 1). Entries are never updated or deleted. The hash
 *   is computed from exactly what is stored: every string of an entry must read back unchanged
 *   (well-formed Unicode, no NUL; platform/text.ts), which postEntry asserts before writing.
 * - I5 the account document is a cache of the head entry. It is written after the entry; if a
 *   crash lands in between, the next read or write repairs it from the chain, never the reverse.
 *   Neither the posting nor the read waits for the cache's write, and in a busy write lane it
 *   gives way to requests' writes for up to a second (platform/write-lane.ts W5), the writes of
 *   one household meanwhile merged into one: a cache that lags costs a reader `_id` look-ups.
 */
import mongoose from 'mongoose';
import { inBackground } from '../../platform/background';
import type { z } from '../../platform/validation';
import { Account, Entry, type AccountDoc, type EntryDoc, type EntryType } from './ledger.model';
import {
  entryAt,
  hashEntry,
  readHead,
  refreshAccount,
  toEntryView,
  ZERO_HASH,
} from './ledger.chain';
import type { EntryView } from './ledger.chain';
import { chainEndProblem, chainStart, checkEntry, type ChainRule } from './chain-check';
import type { accountSchema } from './ledger.schemas';

export {
  entryAt,
  forgetHeadHints,
  hashEntry,
  toEntryView,
  warmHead,
  ZERO_HASH,
  type EntryView,
  type PostEntryInput,
  type PostEntryResult,
} from './ledger.chain';
export { postEntry } from './ledger.posting';
export { ENTRY_RULES, type Amounts } from './ledger.rules';
export {
  adjust,
  award,
  deduct,
  redeem,
  reverse,
  type Posting,
  type Reversed,
} from './ledger.verbs';

/** Entries read per batch when verifying or replaying a chain. */
export const CHAIN_BATCH_SIZE = 500;
/** `_id` look-ups in flight at once when reading a run of entries (the pool has 50 connections). */
const LOOKUPS_PARALLEL = 25;
/** Seqs past a chain's end probed for stray entries (a deleted entry leaves its successors). */
export const GAP_PROBE_WINDOW = 8;

/** An account as the API shows it: the shape `accountSchema` declares. */
export type AccountView = z.infer<typeof accountSchema>;

/** The account, read from the chain's head; repairs the cache when it lags (I5), not waiting for it. */
export async function getAccount(householdId: string): Promise<AccountView> {
  const { head, cacheStale } = await readHead(householdId);
  if (!head)
    return {
      householdId,
      spendable: 0,
      merit: 0,
      entryCount: 0,
      head: { seq: 0, hash: ZERO_HASH },
    };
  // Answered from the chain; the repair is not waited for (a cache's write gives way to
  // requests' writes in a busy write lane: platform/write-lane.ts W5).
  if (cacheStale)
    inBackground('account cache', () => refreshAccount(householdId, toEntryView(head)));
  return {
    householdId,
    spendable: head.spendableAfter,
    merit: head.meritAfter,
    entryCount: head.seq,
    head: { seq: head.seq, hash: head.hash },
  };
}

/** Entries from..to (inclusive) by `_id`, `LOOKUPS_PARALLEL` at a time, in seq order. */
async function entriesBetween(householdId: string, from: number, to: number): Promise<EntryDoc[]> {
  const out: EntryDoc[] = [];
  for (let start = from; start <= to; start += LOOKUPS_PARALLEL) {
    const seqs = Array.from(
      { length: Math.min(LOOKUPS_PARALLEL, to - start + 1) },
      (_, i) => start + i,
    );
    const docs = await Promise.all(seqs.map((seq) => entryAt(householdId, seq)));
    for (const d of docs) {
      if (!d) return out; // a gap ends the read; verifyChain reports gaps
      out.push(d);
    }
  }
  return out;
}

/** A page of entries after `afterSeq`, oldest first; `next` is the `after` of the next page. */
export async function listEntries(
  householdId: string,
  afterSeq: number,
  limit: number,
): Promise<{ items: EntryView[]; next: number | null }> {
  const { head } = await readHead(householdId);
  const last = Math.min(head?.seq ?? 0, afterSeq + limit);
  const items = (await entriesBetween(householdId, afterSeq + 1, last)).map(toEntryView);
  const next = head && last < head.seq && items.length > 0 ? items[items.length - 1]!.seq : null;
  return { items, next };
}

export interface ChainProblem {
  householdId: string;
  seq: number;
  problem: string;
}

/**
 * Checks one household's chain from seq 1: numbering, links, hashes and arithmetic.
 * Returns the first problem, or undefined when the chain is sound. Reads in batches.
 */
export async function verifyChain(householdId: string): Promise<ChainProblem | undefined> {
  const rule: ChainRule = { toView: toEntryView, hash: hashEntry, zeroHash: ZERO_HASH };
  const state = chainStart(rule);
  for (;;) {
    const docs = await entriesBetween(householdId, state.seq, state.seq + CHAIN_BATCH_SIZE - 1);
    for (const doc of docs) {
      const problem = checkEntry(state, householdId, doc, rule);
      if (problem) return { householdId, seq: state.seq, problem };
    }
    if (docs.length < CHAIN_BATCH_SIZE) break;
  }
  // A gap: entries exist beyond the first missing seq. Probed by `_id` just past the end
  // (a deleted entry or run of entries), and witnessed by the account cache, which names the
  // head it last saw. A full scan for stray seqs would cost the whole collection per household
  // on FerretDB-SQLite; `verify-chain` over all chains scans once for all (chain-pass.ts).
  const probes = await Promise.all(
    Array.from({ length: GAP_PROBE_WINDOW }, (_, i) => entryAt(householdId, state.seq + 1 + i)),
  );
  const beyond = probes.find((d) => d !== undefined);
  const cached = beyond ? null : await Account.findById(householdId).lean<AccountDoc>();
  const problem = chainEndProblem(state, beyond?.seq, cached?.seq);
  return problem ? { householdId, seq: state.seq, problem } : undefined;
}

/**
 * Ids of every household, for verify-chain over everything. Households are the authority (a
 * chain's cache may be missing after a crash); read as a stream without a sort, since FerretDB
 * sorts in memory.
 */
export async function* householdsWithEntries(_batchSize?: number): AsyncGenerator<string> {
  const cursor = mongoose.connection
    .db!.collection('households')
    .find({}, { projection: { _id: 1 } });
  for await (const doc of cursor) yield String(doc._id);
}

export type { EntryType };

/** The account cache's (seq, hash) of a household as stored, read fresh (verify-chain's witness). */
export async function accountHead(
  householdId: string,
): Promise<{ seq: number; hash: string } | undefined> {
  return (await Account.findById(householdId).lean<{ seq: number; hash: string }>()) ?? undefined;
}

/**
 * How many entries the ledger holds, from the collection's statistics (`$collStats`), not by
 * reading it: FerretDB answers it with SQL's count (52 ms at 100,000 documents, measured, where
 * `estimatedDocumentCount` read half the collection's worth: 2.1 s); MongoDB from its metadata.
 * Sharded, the shards' counts are summed.
 */
export async function ledgerEntryCount(): Promise<number> {
  const stats = await Entry.aggregate<{ count?: number }>([{ $collStats: { count: {} } }]);
  return stats.reduce((n, s) => n + (s.count ?? 0), 0);
}

/** What a reader outside the ledger (credit scoring) sees of one entry. */
export interface EntryFacts {
  householdId: string;
  seq: number;
  type: EntryType;
  meritDelta: number;
  createdAt: Date;
  ruleCode?: string;
}

/**
 * Streams every entry of the given types posted in the window (after, through], in storage
 * order: one pass without a sort and without an `$in` of households (FerretDB sorts in memory and
 * compares every entry with every id). For credit scoring over many households at once.
 */
export async function* streamEntries(
  types: readonly EntryType[],
  window: { after?: Date; through?: Date },
  batchSize = 1000,
): AsyncGenerator<EntryFacts> {
  const createdAt: { $gt?: Date; $lte?: Date } = {};
  if (window.after) createdAt.$gt = window.after;
  if (window.through) createdAt.$lte = window.through;
  const cursor = Entry.find({
    type: types.length === 1 ? types[0] : { $in: [...types] },
    ...(window.after || window.through ? { createdAt } : {}),
  })
    .select({ _id: 0, householdId: 1, seq: 1, type: 1, meritDelta: 1, createdAt: 1, ruleCode: 1 })
    .lean<EntryFacts[]>()
    .cursor({ batchSize });
  for await (const e of cursor) yield e;
}
