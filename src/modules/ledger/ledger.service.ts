/**
 * The ledger: one append-only, hash-chained chain of entries per household. Every feature that
 * moves points calls `postEntry`, and nothing else writes entries.
 *
 * Invariants (each enforced here and tested in test/modules/ledger):
 * - I1 `seq` runs 1, 2, 3, … per household with no gap and no duplicate. The unique index
 *   (householdId, seq) arbitrates races: the loser re-reads the head and retries.
 * - I2 `spendableAfter` = previous + `spendableDelta` ≥ 0 and `meritAfter` = previous +
 *   `meritDelta`. An award raises both; a redemption lowers spendable only; a deduction lowers
 *   merit by its full amount and spendable by at most what is left.
 * - I3 a source (type + id) posts at most once: unique index on the source; a retry gets the
 *   entry that was posted the first time.
 * - I4 the chain verifies: `hash` = SHA-256 of the RFC 8785 canonical JSON of the entry as the
 *   entries endpoint returns it, with `householdId` added and `hash` left out; `prevHash` links
 *   to the previous entry (64 zeros for seq 1). Entries are never updated or deleted.
 * - I5 the account document is a cache of the head entry. It is written after the entry; if a
 *   crash lands in between, the next read or write repairs it from the chain, never the reverse.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import { Account, Entry, type EntryDoc, type EntryType } from './ledger.model';

export const ZERO_HASH = '0'.repeat(64);

/** Attempts before a post under extreme contention gives up with 503 (never seen below 1,000 writers). */
const POST_ATTEMPTS_MAX = 200;
/** Entries read per batch when verifying or replaying a chain. */
export const CHAIN_BATCH_SIZE = 500;

/** An entry exactly as GET /v1/households/:id/entries returns it. */
export interface EntryView {
  seq: number;
  type: EntryType;
  points: number;
  spendableDelta: number;
  meritDelta: number;
  spendableAfter: number;
  meritAfter: number;
  ruleCode?: string;
  reason?: string;
  sourceType: string;
  sourceId: string;
  createdAt: string;
  prevHash: string;
  hash: string;
}

export interface AccountView {
  householdId: string;
  spendable: number;
  merit: number;
  entryCount: number;
  head: { seq: number; hash: string };
}

/** What moves, and what to do when spendable would drop below zero. */
export interface PostEntryInput {
  householdId: string;
  type: EntryType;
  /** The signed amount the household sees (e.g. −30 for a 30-point deduction). */
  points: number;
  spendableDelta: number;
  meritDelta: number;
  /**
   * `reject`: throw `insufficient_points` if spendable would go below 0 (redemption, expiry).
   * `clamp`: take at most what is spendable (deduction: merit falls by the full amount).
   */
  shortfall: 'reject' | 'clamp';
  source: { type: string; id: string };
  ruleCode?: string;
  reason?: string;
}

export interface PostEntryResult {
  entry: EntryView;
  /** False when the source had already posted and this is the first posting, returned again. */
  created: boolean;
}

/**
 * Test-only fault injection: called after the entry is inserted and before the cache update,
 * to simulate a crash there. Always undefined in production code paths.
 */
export const ledgerFaults: { afterInsert?: (entry: EntryView) => void } = {};

type EntryFields = Omit<EntryDoc, 'createdAt'> & { createdAt: Date | string };

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
export function hashEntry(householdId: string, view: Omit<EntryView, 'hash'> & { hash?: string }): string {
  const { hash: _omit, ...rest } = view;
  const canonical = canonicalize({ ...rest, householdId });
  assert.ok(canonical !== undefined);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/**
 * Serialises posts to one household inside this process. Not needed for correctness (the
 * unique index is the lock, across processes too) but it turns N concurrent writers into a
 * queue instead of N² failed inserts.
 */
const householdQueues = new Map<string, Promise<unknown>>();
function inHouseholdQueue<T>(householdId: string, fn: () => Promise<T>): Promise<T> {
  const prev = householdQueues.get(householdId) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  householdQueues.set(householdId, tail);
  void tail.then(() => {
    if (householdQueues.get(householdId) === tail) householdQueues.delete(householdId);
  });
  return run;
}

async function findBySource(source: { type: string; id: string }): Promise<EntryView | undefined> {
  const doc = await Entry.findOne({ sourceType: source.type, sourceId: source.id }).lean<EntryDoc>();
  return doc ? toEntryView(doc) : undefined;
}

async function readHead(householdId: string): Promise<EntryDoc | undefined> {
  const doc = await Entry.findOne({ householdId }).sort({ seq: -1 }).lean<EntryDoc>();
  return doc ?? undefined;
}

/** Writes the cache forward only: a stale writer never moves it back (checked by seq). */
async function refreshAccount(householdId: string, head: EntryView): Promise<void> {
  const set = { seq: head.seq, spendable: head.spendableAfter, merit: head.meritAfter, hash: head.hash, updatedAt: new Date() };
  try {
    await Account.updateOne({ _id: householdId, seq: { $lt: head.seq } }, { $set: set }, { upsert: true });
  } catch (err) {
    // The upsert found a document with seq >= head.seq: the cache is already as new or newer.
    if (!isDuplicateKeyError(err)) throw err;
  }
}

function nextAmounts(input: PostEntryInput, head: EntryDoc | undefined) {
  const spendableBefore = head?.spendableAfter ?? 0;
  const meritBefore = head?.meritAfter ?? 0;
  let spendableDelta = input.spendableDelta;
  if (spendableBefore + spendableDelta < 0) {
    if (input.shortfall === 'reject') {
      throw new DomainError('insufficient_points', `Only ${spendableBefore} points can be spent.`, {
        spendable: spendableBefore,
      });
    }
    spendableDelta = -spendableBefore;
  }
  return {
    spendableDelta,
    meritDelta: input.meritDelta,
    spendableAfter: spendableBefore + spendableDelta,
    meritAfter: meritBefore + input.meritDelta,
  };
}

/**
 * Appends one entry to a household's chain, exactly once per source.
 * Throws `insufficient_points` (shortfall `reject`) without writing anything.
 */
export async function postEntry(input: PostEntryInput): Promise<PostEntryResult> {
  for (const n of [input.points, input.spendableDelta, input.meritDelta]) assert.ok(Number.isSafeInteger(n), 'points are integers');
  const existing = await findBySource(input.source);
  if (existing) return { entry: existing, created: false };

  return inHouseholdQueue(input.householdId, async () => {
    for (let attempt = 1; attempt <= POST_ATTEMPTS_MAX; attempt++) {
      const head = await readHead(input.householdId);
      const amounts = nextAmounts(input, head);
      assert.ok(amounts.spendableAfter >= 0, 'I2: spendable never below zero');
      const unhashed: Omit<EntryView, 'hash'> = {
        seq: (head?.seq ?? 0) + 1,
        type: input.type,
        points: input.points,
        ...amounts,
        ...(input.ruleCode !== undefined ? { ruleCode: input.ruleCode } : {}),
        ...(input.reason !== undefined ? { reason: input.reason } : {}),
        sourceType: input.source.type,
        sourceId: input.source.id,
        createdAt: new Date().toISOString(),
        prevHash: head?.hash ?? '0'.repeat(64),
      };
      const view: EntryView = { ...unhashed, hash: hashEntry(input.householdId, unhashed) };
      try {
        await Entry.create([{ ...view, householdId: input.householdId, createdAt: new Date(view.createdAt) }]);
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        // Either another writer took this seq (retry from a fresh head) or this source was
        // posted meanwhile (return that posting: I3).
        const posted = await findBySource(input.source);
        if (posted) return { entry: posted, created: false };
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 2)));
        continue;
      }
      ledgerFaults.afterInsert?.(view);
      await refreshAccount(input.householdId, view);
      return { entry: view, created: true };
    }
    throw new DomainError('unavailable', 'The ledger is busy for this household; retry shortly.');
  });
}

/** The account, read from the chain's head; repairs the cache when it lags (I5). */
export async function getAccount(householdId: string): Promise<AccountView> {
  const [head, cached] = await Promise.all([readHead(householdId), Account.findById(householdId).lean<{ seq: number; hash: string }>()]);
  if (!head) return { householdId, spendable: 0, merit: 0, entryCount: 0, head: { seq: 0, hash: ZERO_HASH } };
  const view = toEntryView(head);
  if (!cached || cached.seq !== head.seq || cached.hash !== head.hash) await refreshAccount(householdId, view);
  return {
    householdId,
    spendable: head.spendableAfter,
    merit: head.meritAfter,
    entryCount: head.seq,
    head: { seq: head.seq, hash: head.hash },
  };
}

/** A page of entries after `afterSeq`, oldest first. */
export async function listEntries(householdId: string, afterSeq: number, limit: number): Promise<{ items: EntryView[]; next: number | null }> {
  const docs = await Entry.find({ householdId, seq: { $gt: afterSeq } })
    .sort({ seq: 1 })
    .limit(limit + 1)
    .lean<EntryDoc[]>();
  const items = docs.slice(0, limit).map(toEntryView);
  const next = docs.length > limit ? items[items.length - 1]!.seq : null;
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
  let expectedSeq = 1;
  let prevHash = ZERO_HASH;
  let spendable = 0;
  let merit = 0;
  for (;;) {
    const docs = await Entry.find({ householdId, seq: { $gte: expectedSeq } })
      .sort({ seq: 1 })
      .limit(CHAIN_BATCH_SIZE)
      .lean<EntryDoc[]>();
    for (const doc of docs) {
      const fail = (problem: string): ChainProblem => ({ householdId, seq: doc.seq ?? expectedSeq, problem });
      if (doc.seq !== expectedSeq) return { householdId, seq: expectedSeq, problem: `seq ${expectedSeq} is missing (found ${doc.seq})` };
      const view = toEntryView(doc);
      if (view.prevHash !== prevHash) return fail('prevHash does not match the previous entry');
      if (hashEntry(householdId, view) !== view.hash) return fail('hash does not match the entry');
      if (view.spendableAfter !== spendable + view.spendableDelta || view.meritAfter !== merit + view.meritDelta)
        return fail('balances do not add up');
      if (view.spendableAfter < 0) return fail('spendable is below zero');
      spendable = view.spendableAfter;
      merit = view.meritAfter;
      prevHash = view.hash;
      expectedSeq++;
    }
    if (docs.length < CHAIN_BATCH_SIZE) return undefined;
  }
}

/** Ids of households that have entries, in batches (for verify-chain over everything). */
export async function* householdsWithEntries(batchSize = 1000): AsyncGenerator<string> {
  // Every chain starts at seq 1, so the seq-1 entries list every household with a chain.
  let after = '';
  for (;;) {
    const docs = await Entry.find({ seq: 1, householdId: { $gt: after } })
      .sort({ householdId: 1 })
      .limit(batchSize)
      .select({ householdId: 1 })
      .lean<{ householdId: string }[]>();
    for (const d of docs) yield d.householdId;
    if (docs.length < batchSize) return;
    after = docs[docs.length - 1]!.householdId;
  }
}
