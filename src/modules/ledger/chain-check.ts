/**
 * The rules a stored chain must keep (CONTRACT.md's chain rule, I1, I2, I4), one entry at a time:
 * a state machine that both verifiers drive, so the rules and the words that name a broken
 * chain live here once. `verifyChain` (ledger.service.ts) feeds it one household's entries read
 * by `_id`; the one-pass verifier (chain-pass.ts) feeds it every chain from one scan of the
 * collection. Pure: no database, no clock.
 *
 * How an entry is shaped and hashed (`toEntryView`, `hashEntry`) is passed in by the caller, so
 * that this file needs nothing at run time from ledger.service.ts, which calls it.
 */
import type { EntryDoc } from './ledger.model';
import type { EntryView } from './ledger.service';

/** An entry as stored (the fields the chain rule covers, and the household it is filed under). */
export type StoredEntry = Omit<EntryDoc, '_id' | 'createdAt'> & { createdAt: Date | string };

/** The shape and hash of the chain rule: ledger.service's `toEntryView`, `hashEntry`, `ZERO_HASH`. */
export interface ChainRule {
  toView(doc: StoredEntry): EntryView;
  hash(householdId: string, view: EntryView): string;
  /** `prevHash` of seq 1. */
  zeroHash: string;
}

/** Where a chain's check stands: the next seq expected and what it must build on. */
export interface ChainState {
  /** The next seq expected; after the last entry, the first one missing. */
  seq: number;
  prevHash: string;
  spendable: number;
  merit: number;
}

/** The state before seq 1. */
export function chainStart(rule: ChainRule): ChainState {
  return { seq: 1, prevHash: rule.zeroHash, spendable: 0, merit: 0 };
}

/**
 * Checks the entry stored at `state.seq` of `householdId`'s chain (the document whose `_id` is
 * `<householdId>:<seq>`): filing, link, hash, arithmetic and spendable ≥ 0. Returns the problem
 * (at `state.seq`, which then stays put), or undefined and moves the state past the entry.
 */
export function checkEntry(
  state: ChainState,
  householdId: string,
  doc: StoredEntry,
  rule: ChainRule,
): string | undefined {
  const view = rule.toView(doc);
  if (doc.householdId !== householdId || view.seq !== state.seq)
    return 'entry is filed under the wrong household or seq';
  if (view.prevHash !== state.prevHash) return 'prevHash does not match the previous entry';
  if (rule.hash(householdId, view) !== view.hash) return 'hash does not match the entry';
  if (
    view.spendableAfter !== state.spendable + view.spendableDelta ||
    view.meritAfter !== state.merit + view.meritDelta
  )
    return 'balances do not add up';
  if (view.spendableAfter < 0) return 'spendable is below zero';
  state.spendable = view.spendableAfter;
  state.merit = view.meritAfter;
  state.prevHash = view.hash;
  state.seq++;
  return undefined;
}

/**
 * After the last entry: is the end a real end? `beyondSeq` is the seq field of a stored entry
 * found past the first missing seq (`state.seq`), if any; `cacheSeq` the seq the account cache
 * recorded, if there is a cache. Either shows entries deleted from the middle or the tail.
 */
export function chainEndProblem(
  state: ChainState,
  beyondSeq: number | undefined,
  cacheSeq: number | undefined,
): string | undefined {
  if (beyondSeq !== undefined) return `seq ${state.seq} is missing (found ${beyondSeq})`;
  if (cacheSeq !== undefined && cacheSeq >= state.seq)
    return `seq ${state.seq} is missing (the account last saw seq ${cacheSeq})`;
  return undefined;
}

/**
 * The account cache as a witness, once the chain itself is sound: the cache records (seq, hash)
 * of an entry the ledger wrote. `atCache` is the stored entry at the cache's seq (undefined when
 * there is none). The cache may lag (I5) but never names an entry the chain does not hold.
 */
export function cacheWitnessProblem(
  householdId: string,
  cached: { seq: number; hash: string },
  atCache: Pick<StoredEntry, 'householdId' | 'seq' | 'hash'> | undefined,
): string | undefined {
  if (!atCache || atCache.seq !== cached.seq || atCache.householdId !== householdId)
    return `seq ${cached.seq} is missing although the account cache recorded it (entries deleted, or the cache altered)`;
  if (atCache.hash !== cached.hash)
    return 'the entry differs from the one the account cache recorded (the chain rewritten, or the cache altered)';
  return undefined;
}
