/**
 * The ledger's storage side: an entry as stored and as hashed, a household chain's head (hint,
 * account cache, chain) and the account cache's writes; `postEntry` (ledger.posting.ts) appends on
 * them. The invariants I1–I5 are listed in ledger.service.ts; the rule of each entry type (I2)
 * lives in ledger.verbs.ts and is asserted in ledger.posting.ts before writing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Collection } from 'mongodb';
import type { HeadReading } from '../../platform/append-chain';
import { inBackground } from '../../platform/background';
import { busyStats, isBusyError } from '../../platform/busy';
import { findLeanById, registerHints } from '../../platform/db';
import { isDuplicateKeyError } from '../../platform/errors';
import { seqUpserts } from '../../platform/group-commit';
import type { z } from '../../platform/validation';
import {
  Account,
  Entry,
  entryId,
  type AccountDoc,
  type EntryDoc,
  type EntryType,
} from './ledger.model';
import type { Amounts } from './ledger.rules';
import type { entrySchema } from './ledger.schemas';

export const ZERO_HASH = '0'.repeat(64);

/** An entry exactly as GET /v1/households/:id/entries returns it. */
export type EntryView = z.infer<typeof entrySchema>;

/**
 * What moves. Features post through the verbs (ledger.verbs.ts), which work the amounts out
 * from the type's rule; `postEntry` asserts the same rule for whoever calls it directly.
 */
export interface PostEntryInput extends Amounts {
  householdId: string;
  type: EntryType;
  /**
   * Follows from the type (I2) and may be left out: `reject` throws `insufficient_points` if
   * spendable would go below 0 (redemption, expiry); `clamp` takes at most what is spendable
   * (deduction, negative adjustment: merit falls by the full amount).
   */
  shortfall?: 'reject' | 'clamp';
  source: { type: string; id: string };
  ruleCode?: string;
  reason?: string;
}

export interface PostEntryResult {
  entry: EntryView;
  /** False when the source had already posted and this is the first posting, returned again. */
  created: boolean;
}

type EntryFields = Omit<EntryDoc, 'createdAt' | '_id'> & { createdAt: Date | string };

/** Shapes a stored entry for the API; the same shape is hashed. */
export function toEntryView(doc: EntryFields): EntryView {
  const view: EntryView = {
    seq: doc.seq,
    type: doc.type,
    points: doc.points,
    spendableDelta: doc.spendableDelta,
    meritDelta: doc.meritDelta,
    spendableAfter: doc.spendableAfter,
    meritAfter: doc.meritAfter,
    sourceType: doc.sourceType,
    sourceId: doc.sourceId,
    createdAt: typeof doc.createdAt === 'string' ? doc.createdAt : doc.createdAt.toISOString(),
    prevHash: doc.prevHash,
    hash: doc.hash,
  };
  if (doc.ruleCode !== undefined && doc.ruleCode !== null) view.ruleCode = doc.ruleCode;
  if (doc.reason !== undefined && doc.reason !== null) view.reason = doc.reason;
  return view;
}

/** CONTRACT.md's chain rule: SHA-256 hex of JCS(entry view + householdId − hash). */
export function hashEntry(
  householdId: string,
  view: Omit<EntryView, 'hash'> & { hash?: string },
): string {
  const { hash: _omit, ...rest } = view;
  const canonical = canonicalize({ ...rest, householdId });
  assert.ok(canonical !== undefined);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/**
 * The entry a source posted, if any. On FerretDB's SQLite backend this filter is a scan, so it
 * runs only on the rare paths: after a duplicate-key error, and before refusing a post for
 * lack of points (a replay of a redemption that went through must return it, not refuse).
 */
export async function findBySource(source: {
  type: string;
  id: string;
}): Promise<EntryView | undefined> {
  const doc = await Entry.findOne({
    sourceType: source.type,
    sourceId: source.id,
  }).lean<EntryDoc>();
  return doc ? toEntryView(doc) : undefined;
}

/** The stored entry at `seq` of a household's chain, read fresh by `_id` (also verify-chain's). */
export async function entryAt(householdId: string, seq: number): Promise<EntryDoc | undefined> {
  return (await findLeanById<EntryDoc>(Entry, entryId(householdId, seq))) ?? undefined;
}

export interface HeadRead {
  head: EntryDoc | undefined;
  /** True when the account cache does not describe the head (missing, lagging or altered). */
  cacheStale: boolean;
}

/**
 * Finds the head of a household's chain with `_id` look-ups only: the account cache gives a
 * starting seq, the entry there is read, and the chain is walked forward until no next entry
 * exists. The cache is never ahead of the chain (it is written after the entry, from the
 * entry); if it names a seq that does not exist or an entry it does not match, it was altered
 * and the walk starts from seq 1.
 */
export async function readHead(
  householdId: string,
  /** The account cache as just read by the caller (null: none), to save reading it again. */
  justRead?: AccountDoc | null,
): Promise<HeadRead> {
  const cached =
    justRead !== undefined ? justRead : await findLeanById<AccountDoc>(Account, householdId);
  let head: EntryDoc | undefined;
  if (cached && cached.seq > 0) {
    head = await entryAt(householdId, cached.seq);
    if (head && head.hash !== cached.hash) head = undefined;
  }
  for (;;) {
    const next = await entryAt(householdId, (head?.seq ?? 0) + 1);
    if (!next) break;
    head = next;
  }
  const cacheStale = head
    ? !cached ||
      cached.seq !== head.seq ||
      cached.hash !== head.hash ||
      cached.spendable !== head.spendableAfter ||
      cached.merit !== head.meritAfter
    : Boolean(cached && cached.seq !== 0);
  return { head, cacheStale };
}

/** The account cache's writes, batched and coalesced per household (group-commit.ts seqUpserts). */
const accountWrites = seqUpserts<AccountDoc>(
  () => Account.collection as unknown as Collection<AccountDoc>,
);

/**
 * Writes the account cache from a head entry (after a post, or a repair from the chain). A
 * cache that ends up behind is harmless: readHead walks forward from it. A cache ahead of or
 * different from the chain is what must never survive, and a repair removes it.
 */
export async function refreshAccount(householdId: string, head: EntryView): Promise<void> {
  const set = {
    seq: head.seq,
    spendable: head.spendableAfter,
    merit: head.meritAfter,
    hash: head.hash,
    updatedAt: new Date(),
  };
  // A lone `_id` filter (FerretDB pushes down nothing else: `seq: {$lt}` read every account).
  // Without the condition a slow writer in another process may move the cache back; that is
  // harmless (readHead walks forward from it) and within a process writes are queued per household.
  // Sent with the cache writes of concurrent postings as one unordered bulkWrite (group commit);
  // the caller goes on only after its own write is acknowledged.
  // The batch is sent again after a busy refusal (a `$set` repeats safely). If the database stays
  // busy the cache is left behind and the request goes on: its entry is written, and the next
  // read walks forward from the cache and repairs it.
  try {
    await accountWrites.write(householdId, set);
  } catch (err) {
    // Two first posts upserting at once: the other one created the document; it is a cache.
    if (isBusyError(err)) busyStats.leftUndone++;
    else if (!isDuplicateKeyError(err)) throw err;
  }
}

/**
 * Chain heads held in memory as hints: the head this process last wrote or read for a
 * household. A hint is never ahead of the chain (entries are never deleted and it is set only
 * from an entry that exists); a stale one (another process posted since) only costs a retry,
 * because the unique (householdId, seq) index refuses the insert. Bounded: the oldest hints go.
 */
const HEAD_HINTS_MAX = 100_000;
const headHints = registerHints(new Map<string, EntryView>());
export function rememberHead(householdId: string, head: EntryView): void {
  headHints.delete(householdId);
  headHints.set(householdId, head);
  if (headHints.size > HEAD_HINTS_MAX) headHints.delete(headHints.keys().next().value!);
}
/** The head this process holds in memory for a household, if any (a hint: C4). */
export const headHint = (householdId: string): EntryView | undefined => headHints.get(householdId);

/** Drops a household's hint (its head was found stale). */
export function forgetHead(householdId: string): void {
  headHints.delete(householdId);
}

/** Test-only: forget every hint (as a freshly started process would). */
export function forgetHeadHints(): void {
  headHints.clear();
}

export type Head = EntryDoc | EntryView;

/**
 * The head the account cache names, read by `_id` (the account, then the entry at its seq), when
 * that entry is the one the cache describes; else no head, with the account as read.
 */
async function headOfCache(
  householdId: string,
): Promise<{ account: AccountDoc | null; head?: EntryDoc }> {
  const account = await findLeanById<AccountDoc>(Account, householdId);
  if (!account || account.seq <= 0) return { account };
  const head = await entryAt(householdId, account.seq);
  const matches =
    head &&
    head.hash === account.hash &&
    head.spendableAfter === account.spendable &&
    head.meritAfter === account.merit;
  return matches ? { account, head } : { account };
}

/**
 * Reads a household's head into the hints ahead of a posting about to come (a redemption's, read
 * while its basket is priced): the account cache's reading, reads only; none when the cache does
 * not describe its entry. A hint held or remembered meanwhile is kept; a hint never decides (C4).
 */
export async function warmHead(householdId: string): Promise<void> {
  if (headHints.has(householdId)) return;
  const { head } = await headOfCache(householdId);
  if (head && !headHints.has(householdId)) rememberHead(householdId, toEntryView(head));
}

/**
 * The readings of a household's head, cheapest first (C4 of platform/append-chain.ts): the
 * in-memory hint; the account cache checked against the entry it names (two `_id` reads);
 * the chain itself, walked from the cache, which also repairs a stale cache (I5).
 */
export function headReadings(householdId: string): HeadReading<Head>[] {
  /**
   * The account document the cache reading found unusable (missing, or not the entry it names),
   * handed to the chain reading that follows at once; taken once, so a chain reading after a
   * refused insert reads the cache afresh.
   */
  let unusable: AccountDoc | null | undefined;
  const hint: HeadReading<Head> = () => {
    const head = headHints.get(householdId);
    return Promise.resolve(head ? { head } : undefined);
  };
  const accountCache: HeadReading<Head> = async () => {
    const { account, head } = await headOfCache(householdId);
    unusable = head ? undefined : account;
    return head && { head };
  };
  const chain: HeadReading<Head> = async () => {
    const justRead = unusable;
    unusable = undefined;
    const { head, cacheStale } = await readHead(householdId, justRead);
    // I5: a crash may have left the cache behind; repaired from the chain, not waited for.
    if (cacheStale && head)
      inBackground('account cache', () => refreshAccount(householdId, toEntryView(head)));
    if (head) rememberHead(householdId, toEntryView(head));
    return { head };
  };
  return [hint, accountCache, chain];
}
