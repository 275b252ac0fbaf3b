/**
 * Posting: `postEntry` appends one entry to a household's chain through the platform's one append
 * loop (platform/append-chain.ts), or with the postings that waited for the same turn as a run
 * (platform/run-commit.ts). The invariants I1–I5 are listed in ledger.service.ts; the rule of each
 * entry type (I2) lives in ledger.verbs.ts and is asserted here before writing.
 */
import assert from 'node:assert/strict';
import { appendLink } from '../../platform/append-chain';
import { inBackground } from '../../platform/background';
import { ChainQueue } from '../../platform/chain-queue';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import { ledgerFaults } from '../../platform/faults';
import { modelInserts, readBackById } from '../../platform/group-commit';
import { RunCommit } from '../../platform/run-commit';
import { storedForm } from '../../platform/stored-form';
import { isStorableText } from '../../platform/text';
import {
  entryAt,
  findBySource,
  forgetHead,
  hashEntry,
  headHint,
  headReadings,
  refreshAccount,
  rememberHead,
  toEntryView,
  ZERO_HASH,
  type EntryView,
  type Head,
  type PostEntryInput,
  type PostEntryResult,
} from './ledger.chain';
import { Entry, entryId } from './ledger.model';
import { amountsFor, assertEntryRule } from './ledger.rules';

/** I4: a string the database would alter (a lone surrogate becomes U+FFFD) never matches its hash. */
function assertStorable(input: PostEntryInput): void {
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
}

/** The next entry on `head`, hashed; throws `insufficient_points` (shortfall `reject`). */
function entryOn(input: PostEntryInput, head: Head | undefined): EntryView {
  const amounts = amountsFor(input, { spendable: head?.spendableAfter ?? 0 });
  if ('shortOf' in amounts)
    throw new DomainError('insufficient_points', `Only ${amounts.shortOf} points can be spent.`, {
      spendable: amounts.shortOf,
    });
  const unhashed: Omit<EntryView, 'hash'> = {
    seq: (head?.seq ?? 0) + 1,
    type: input.type,
    points: input.points,
    spendableDelta: amounts.spendableDelta,
    meritDelta: amounts.meritDelta,
    spendableAfter: (head?.spendableAfter ?? 0) + amounts.spendableDelta,
    meritAfter: (head?.meritAfter ?? 0) + amounts.meritDelta,
    ...(input.ruleCode !== undefined ? { ruleCode: input.ruleCode } : {}),
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
    sourceType: input.source.type,
    sourceId: input.source.id,
    createdAt: new Date().toISOString(),
    prevHash: head?.hash ?? ZERO_HASH,
  };
  assert.ok(unhashed.spendableAfter >= 0, 'I2: spendable never below zero');
  return { ...unhashed, hash: hashEntry(input.householdId, unhashed) };
}

const queue = new ChainQueue();

/**
 * Group commit (platform/group-commit.ts): the entries of concurrent postings (one per household
 * at a time: the queue above) go to the database as one unordered insertMany. Each entry is
 * still refused alone by `_id` (I1) and by its source (I3), and its posting is answered only
 * after the batch's reply acknowledges that entry.
 */
const entryBatch = modelInserts(Entry, { beforeSend: (docs) => ledgerFaults.inBatch?.(docs) });

/** Test and bench figures: batches sent, entries in them, the largest batch. */
export function entryBatchStats(): { batches: number; documents: number; largest: number } {
  return { ...entryBatch.stats };
}

/** The document of an entry: the view with its `_id`, household and `createdAt` as a date. */
const entryDocument = (householdId: string, view: EntryView) => ({
  ...view,
  _id: entryId(householdId, view.seq),
  householdId,
  createdAt: new Date(view.createdAt),
});

/** Inserts one entry through the group commit (checked against the schema first). */
async function insertEntry(householdId: string, view: EntryView): Promise<void> {
  await entryBatch.insert(entryDocument(householdId, view));
}

/**
 * Runs (platform/run-commit.ts): postings to one household that waited for each other in its
 * queue, built one on another from the head in memory and sent as one ordered insert with the
 * runs of other households. A link is never written after one that was not (RC1), so a run
 * cannot break a chain; whatever a run does not write is decided one posting at a time.
 */
const entryRuns = new RunCommit<Record<string, unknown>>(
  async (docs) => {
    ledgerFaults.inRun?.(docs);
    await Entry.collection.insertMany(docs, { ordered: true });
    await ledgerFaults.afterRun?.(docs);
  },
  (doc) => readBackById((_id) => Entry.collection.findOne({ _id } as object), doc),
);

/** Test and bench figures: ordered batches of runs sent, runs, entries in them, the largest run. */
export function entryRunStats(): RunCommit<unknown>['stats'] {
  return { ...entryRuns.stats };
}

/** The entry as stored: the schema's form of its document, as the group commit would insert it. */
function storedEntry(householdId: string, view: EntryView): Promise<Record<string, unknown>> {
  return storedForm(Entry, entryDocument(householdId, view));
}

/**
 * Appends one entry to a household's chain, exactly once per source: a retry of a source that
 * already posted returns that first entry (`created: false`). Throws `insufficient_points`
 * (shortfall `reject`) and, for amounts that break the type's rule (I2), an AssertionError,
 * without writing anything. Postings to one household in this process take turns in its queue;
 * those that waited for the same turn go as a run (`postRun`).
 */
export async function postEntry(input: PostEntryInput): Promise<PostEntryResult> {
  assertEntryRule(input); // I2: the type's rule, before anything is read or written
  assertStorable(input);
  const { householdId } = input;
  return new Promise<PostEntryResult>((resolve, reject) => {
    let waiting = waitingPostings.get(householdId);
    if (!waiting) waitingPostings.set(householdId, (waiting = []));
    waiting.push({ input, resolve, reject });
    void queue.run(householdId, () => postWaiting(householdId));
  });
}

interface WaitingPosting {
  input: PostEntryInput;
  resolve: (result: PostEntryResult) => void;
  reject: (err: unknown) => void;
}

/** Postings waiting for their household's turn, oldest first. */
const waitingPostings = new Map<string, WaitingPosting[]>();

/**
 * A household's turn: every posting that waited for it, in the order they came. Two or more with
 * the head in memory go as a run; what the run leaves, and a posting alone, one at a time
 * (`postOne`). A turn finding nothing waiting was taken by an earlier turn.
 */
async function postWaiting(householdId: string): Promise<void> {
  let waiting = waitingPostings.get(householdId) ?? [];
  waitingPostings.delete(householdId);
  try {
    while (waiting.length) {
      const hint = headHint(householdId);
      if (waiting.length > 1 && hint) {
        waiting = await postRun(householdId, hint, waiting);
        if (!waiting.length) break;
      }
      const [first, ...rest] = waiting as [WaitingPosting, ...WaitingPosting[]];
      await postOne(first.input).then(first.resolve, first.reject);
      waiting = rest;
    }
  } catch (err) {
    // Never leave a posting unanswered (a run's steps do not throw; this is the last guard).
    for (const w of waiting) w.reject(err);
  }
}

/** Entries in one run at most (a burst beyond it goes as several runs, one after another). */
const RUN_MAX = 256;

/**
 * Builds the waiting postings one on another from the head in memory and inserts them as one run
 * (RC1–RC4). The run stops before a posting that would be refused (a refusal is decided on the
 * chain's word, C4: one at a time) or whose entry the schema refuses. Answers the postings the
 * run wrote; returns the others, in order, for `postOne`. A hint behind the chain (another
 * process appended) has the run's first entry refused and is forgotten.
 */
async function postRun(
  householdId: string,
  hint: EntryView,
  waiting: WaitingPosting[],
): Promise<WaitingPosting[]> {
  const run: { w: WaitingPosting; view: EntryView; doc: Record<string, unknown> }[] = [];
  let head: EntryView = hint;
  for (const w of waiting) {
    if (run.length >= RUN_MAX) break;
    try {
      const view = entryOn(w.input, head);
      run.push({ w, view, doc: await storedEntry(householdId, view) });
      head = view;
    } catch {
      break;
    }
  }
  if (run.length < 2) return waiting;
  const { written, error } = await entryRuns.insert(run.map((r) => r.doc));
  if (written === 0) {
    if (isDuplicateKeyError(error)) forgetHead(householdId);
    return waiting;
  }
  const done = run.slice(0, written);
  let crashed = false;
  for (const { w, view } of done) {
    try {
      await ledgerFaults.afterInsert?.(view);
      w.resolve({ entry: view, created: true });
    } catch (err) {
      // A test's crash between an entry and the cache: that posting fails, its entry stays.
      crashed = true;
      w.reject(err);
    }
  }
  const last = done[done.length - 1]!.view;
  rememberHead(householdId, last);
  if (!crashed) inBackground('account cache', () => refreshAccount(householdId, last));
  return waiting.slice(written);
}

/** One posting on its own: the append loop over the head's readings (C1–C4). */
function postOne(input: PostEntryInput): Promise<PostEntryResult> {
  const { householdId, source } = input;
  return appendLink<Head, EntryView, PostEntryResult>({
    heads: headReadings(householdId),
    build: (head) => entryOn(input, head),
    insert: (view) => insertEntry(householdId, view),
    appendedBefore: async (view) => {
      // Either another writer took this seq (retry) or this source posted already (I3).
      const holder = await entryAt(householdId, view.seq);
      if (holder && (holder.sourceType !== source.type || holder.sourceId !== source.id))
        return undefined;
      const posted = holder ? toEntryView(holder) : await findBySource(source);
      assert.ok(posted, 'a duplicate key is either the seq or the source');
      return { entry: posted, created: false };
    },
    forget: () => forgetHead(householdId),
    beforeRefusal: async (err) => {
      if (!(err instanceof DomainError) || err.code !== 'insufficient_points') return undefined;
      const posted = await findBySource(source);
      return posted && { entry: posted, created: false };
    },
    committed: async (view) => {
      await ledgerFaults.afterInsert?.(view);
      rememberHead(householdId, view);
      // The entry is durable: the posting is answered without waiting for the cache (I5).
      inBackground('account cache', () => refreshAccount(householdId, view));
      return { entry: view, created: true };
    },
    busy: 'The ledger is busy for this household; retry shortly.',
  });
}
