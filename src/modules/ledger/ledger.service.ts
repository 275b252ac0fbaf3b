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
 *   to the previous entry (64 zeros for seq 1). Entries are never updated or deleted. The hash
 *   is computed from exactly what is stored: every string of an entry must read back unchanged
 *   (well-formed Unicode, no NUL; platform/text.ts), which postEntry asserts before writing.
 * - I5 the account document is a cache of the head entry. It is written after the entry; if a
 *   crash lands in between, the next read or write repairs it from the chain, never the reverse.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import { ledgerFaults } from '../../platform/faults';
import { isStorableText } from '../../platform/text';
import mongoose from 'mongoose';
import {
  Account,
  Entry,
  entryId,
  type AccountDoc,
  type EntryDoc,
  type EntryType,
} from './ledger.model';

export const ZERO_HASH = '0'.repeat(64);

/** Attempts before a post under extreme contention gives up with 503 (never seen below 1,000 writers). */
const POST_ATTEMPTS_MAX = 200;
/** Entries read per batch when verifying or replaying a chain. */
export const CHAIN_BATCH_SIZE = 500;
/** `_id` look-ups in flight at once when reading a run of entries (the pool has 50 connections). */
const LOOKUPS_PARALLEL = 25;
/** Seqs past a chain's end probed for stray entries (a deleted entry leaves its successors). */
const GAP_PROBE_WINDOW = 8;

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

/**
 * The entry a source posted, if any. On FerretDB's SQLite backend this filter is a scan, so it
 * runs only on the rare paths: after a duplicate-key error, and before refusing a post for
 * lack of points (a replay of a redemption that went through must return it, not refuse).
 */
async function findBySource(source: { type: string; id: string }): Promise<EntryView | undefined> {
  const doc = await Entry.findOne({
    sourceType: source.type,
    sourceId: source.id,
  }).lean<EntryDoc>();
  return doc ? toEntryView(doc) : undefined;
}

/** The stored entry at `seq` of a household's chain, read fresh by `_id` (also verify-chain's). */
export async function entryAt(householdId: string, seq: number): Promise<EntryDoc | undefined> {
  return (await Entry.findById(entryId(householdId, seq)).lean<EntryDoc>()) ?? undefined;
}

interface HeadRead {
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
async function readHead(householdId: string): Promise<HeadRead> {
  const cached = await Account.findById(householdId).lean<AccountDoc>();
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

/**
 * Writes the account cache from a head entry (after a post, or a repair from the chain). A
 * cache that ends up behind is harmless: readHead walks forward from it. A cache ahead of or
 * different from the chain is what must never survive, and a repair removes it.
 */
async function refreshAccount(householdId: string, head: EntryView): Promise<void> {
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
  try {
    await Account.updateOne({ _id: householdId }, { $set: set }, { upsert: true });
  } catch (err) {
    // Two first posts upserting at once: the other one created the document; it is a cache.
    if (!isDuplicateKeyError(err)) throw err;
  }
}

/**
 * Chain heads held in memory as hints: the head this process last wrote or read for a
 * household. A hint is never ahead of the chain (entries are never deleted and it is set only
 * from an entry that exists); a stale one (another process posted since) only costs a retry,
 * because the unique (householdId, seq) index refuses the insert. Bounded: the oldest hints go.
 */
const HEAD_HINTS_MAX = 100_000;
const headHints = new Map<string, EntryView>();
function rememberHead(householdId: string, head: EntryView): void {
  headHints.delete(householdId);
  headHints.set(householdId, head);
  if (headHints.size > HEAD_HINTS_MAX) headHints.delete(headHints.keys().next().value!);
}
/** Test-only: forget every hint (as a freshly started process would). */
export function forgetHeadHints(): void {
  headHints.clear();
}

/**
 * The head to build the next entry on, for a write: the in-memory hint, else the account cache
 * checked against the entry it names (two `_id` reads). Whether an entry follows it is left to
 * the insert: the unique index refuses a seq that is taken, and the retry reads the chain.
 */
async function headForWrite(
  householdId: string,
  skipHint: boolean,
): Promise<EntryDoc | EntryView | undefined | null> {
  const hint = skipHint ? undefined : headHints.get(householdId);
  if (hint) return hint;
  const cached = await Account.findById(householdId).lean<AccountDoc>();
  if (!cached || cached.seq <= 0) return null;
  const head = await entryAt(householdId, cached.seq);
  if (
    !head ||
    head.hash !== cached.hash ||
    head.spendableAfter !== cached.spendable ||
    head.meritAfter !== cached.merit
  )
    return null;
  return head;
}

function nextAmounts(input: PostEntryInput, head: EntryDoc | EntryView | undefined) {
  const spendableBefore = head?.spendableAfter ?? 0;
  const meritBefore = head?.meritAfter ?? 0;
  let spendableDelta = input.spendableDelta;
  if (spendableBefore + spendableDelta < 0) {
    if (input.shortfall === 'reject') return { shortOf: spendableBefore } as const;
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
 * Appends one entry to a household's chain, exactly once per source: a retry of a source that
 * already posted returns that first entry (`created: false`).
 * Throws `insufficient_points` (shortfall `reject`) without writing anything.
 */
export async function postEntry(input: PostEntryInput): Promise<PostEntryResult> {
  for (const n of [input.points, input.spendableDelta, input.meritDelta])
    assert.ok(Number.isSafeInteger(n), 'points are integers');
  // I4: a string the database would alter (a lone surrogate becomes U+FFFD) would leave an
  // entry that never matches its hash. Text is checked at the edge; this is the last line.
  for (const [field, value] of [
    ['reason', input.reason],
    ['ruleCode', input.ruleCode],
    ['sourceType', input.source.type],
    ['sourceId', input.source.id],
  ] as const) {
    if (value !== undefined)
      assert.ok(
        isStorableText(value),
        `I4: ${field} must read back as stored (well-formed Unicode, no NUL)`,
      );
  }

  return inHouseholdQueue(input.householdId, async () => {
    // The hint first, then the account cache (checked), then the chain: a refused insert or a
    // shortfall moves one stage on (the account cache was likely written by the other writer).
    let fromChain = false;
    let skipHint = false;
    for (let attempt = 1; attempt <= POST_ATTEMPTS_MAX; attempt++) {
      let head: EntryDoc | EntryView | undefined;
      const hinted = fromChain ? null : await headForWrite(input.householdId, skipHint);
      const fromHint = !fromChain && !skipHint && headHints.has(input.householdId);
      if (hinted !== null) head = hinted;
      else {
        fromChain = true;
        const read = await readHead(input.householdId);
        head = read.head;
        // I5: a crash may have left the cache behind; repair it before building on the chain.
        if (read.cacheStale && head) await refreshAccount(input.householdId, toEntryView(head));
        if (head) rememberHead(input.householdId, toEntryView(head));
      }
      const amounts = nextAmounts(input, head);
      if ('shortOf' in amounts && !fromChain) {
        // The hint may be behind an award posted elsewhere: refuse only on the chain's word.
        fromChain = true;
        continue;
      }
      if ('shortOf' in amounts) {
        const posted = await findBySource(input.source);
        if (posted) return { entry: posted, created: false };
        throw new DomainError(
          'insufficient_points',
          `Only ${amounts.shortOf} points can be spent.`,
          { spendable: amounts.shortOf },
        );
      }
      assert.ok(amounts.spendableAfter >= 0, 'I2: spendable never below zero');
      const seq = (head?.seq ?? 0) + 1;
      const unhashed: Omit<EntryView, 'hash'> = {
        seq,
        type: input.type,
        points: input.points,
        ...amounts,
        ...(input.ruleCode !== undefined ? { ruleCode: input.ruleCode } : {}),
        ...(input.reason !== undefined ? { reason: input.reason } : {}),
        sourceType: input.source.type,
        sourceId: input.source.id,
        createdAt: new Date().toISOString(),
        prevHash: head?.hash ?? ZERO_HASH,
      };
      const view: EntryView = { ...unhashed, hash: hashEntry(input.householdId, unhashed) };
      try {
        await Entry.create([
          {
            ...view,
            _id: entryId(input.householdId, seq),
            householdId: input.householdId,
            createdAt: new Date(view.createdAt),
          },
        ]);
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        // Either another writer took this seq (retry from a fresh head) or this source was
        // posted already (return that posting: I3).
        const holder = await entryAt(input.householdId, seq);
        if (
          holder &&
          (holder.sourceType !== input.source.type || holder.sourceId !== input.source.id)
        ) {
          headHints.delete(input.householdId);
          // A stale hint costs a retry from the account cache, then from the chain; a race with
          // another writer backs off.
          if (fromChain)
            await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 2)));
          if (fromHint) skipHint = true;
          else fromChain = true;
          continue;
        }
        const posted = holder ? toEntryView(holder) : await findBySource(input.source);
        assert.ok(posted, 'a duplicate key is either the seq or the source');
        return { entry: posted, created: false };
      }
      ledgerFaults.afterInsert?.(view);
      rememberHead(input.householdId, view);
      await refreshAccount(input.householdId, view);
      return { entry: view, created: true };
    }
    throw new DomainError('unavailable', 'The ledger is busy for this household; retry shortly.');
  });
}

/** The account, read from the chain's head; repairs the cache when it lags (I5). */
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
  if (cacheStale) await refreshAccount(householdId, toEntryView(head));
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
  let prevHash = ZERO_HASH;
  let spendable = 0;
  let merit = 0;
  let seq = 1;
  for (;;) {
    const docs = await entriesBetween(householdId, seq, seq + CHAIN_BATCH_SIZE - 1);
    for (const doc of docs) {
      const fail = (problem: string): ChainProblem => ({ householdId, seq, problem });
      const view = toEntryView(doc);
      if (doc.householdId !== householdId || view.seq !== seq)
        return fail('entry is filed under the wrong household or seq');
      if (view.prevHash !== prevHash) return fail('prevHash does not match the previous entry');
      if (hashEntry(householdId, view) !== view.hash) return fail('hash does not match the entry');
      if (
        view.spendableAfter !== spendable + view.spendableDelta ||
        view.meritAfter !== merit + view.meritDelta
      )
        return fail('balances do not add up');
      if (view.spendableAfter < 0) return fail('spendable is below zero');
      spendable = view.spendableAfter;
      merit = view.meritAfter;
      prevHash = view.hash;
      seq++;
    }
    if (docs.length < CHAIN_BATCH_SIZE) break;
  }
  // A gap: entries exist beyond the first missing seq. Probed by `_id` just past the end
  // (a deleted entry or run of entries), and witnessed by the account cache, which names the
  // head it last saw. A full scan for stray seqs would cost the whole collection per household
  // on FerretDB-SQLite; `verify-chain` additionally compares the cache with the chain.
  const probes = await Promise.all(
    Array.from({ length: GAP_PROBE_WINDOW }, (_, i) => entryAt(householdId, seq + 1 + i)),
  );
  const beyond = probes.find((d) => d !== undefined);
  if (beyond) return { householdId, seq, problem: `seq ${seq} is missing (found ${beyond.seq})` };
  const cached = await Account.findById(householdId).lean<AccountDoc>();
  if (cached && cached.seq >= seq)
    return {
      householdId,
      seq,
      problem: `seq ${seq} is missing (the account last saw seq ${cached.seq})`,
    };
  return undefined;
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
