/**
 * Where the officer's look-up finds a household's latest consent to a cooperative with lone `_id`
 * reads only: FerretDB-SQLite answers any other filter by scanning the whole collection, and
 * `credit_consents` holds a city's consents.
 *
 * Invariants:
 * - CN1 A household's consents to one cooperative given through this service form a chain: the
 *   n-th has the `_id` `consentIdOf(householdId, cooperativeId, n)` (n = 1, 2, …). Two grants at
 *   once both try the same n; the unique `_id` lets exactly one in and the other takes n + 1. The
 *   consent record is its own link, so no step lies between "recorded" and "findable".
 * - CN2 Along a chain grantedAt rises strictly (a grant on a clock behind the head's takes the
 *   head's time + 1 ms), and the first link's lies after every consent stored before chains. So
 *   the newest link is the latest consent given: the one that governs (consents.service.ts).
 * - CN3 `credit_consent_heads` (and this process's memory) hold a hint of where a chain ends,
 *   written after each grant, and for a pair whose consents were stored before chains existed
 *   the latest of those (seq 0), written once by `migrateConsentHeads`. A hint is never trusted
 *   to end the chain: the next link is always looked up, so a lagging, missing or stale hint (a
 *   crash between a consent and its hint, two hints written out of order) costs a look-up, never
 *   a wrong answer. Hints are never ahead of the chain: consents are never deleted.
 */
import { createHash } from 'node:crypto';
import { Types } from 'mongoose';
import { registerHints, setMark } from '../../platform/db';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import { consentFaults } from '../../platform/faults';
import {
  Consent,
  ConsentHead,
  SweepMark,
  type ConsentDoc,
  type ConsentHeadDoc,
} from './credit.model';

/** A chain's end: its newest consent's terms and position (0: a consent from before chains). */
export interface ChainHead {
  seq: number;
  id: string;
  grantedAt: number;
  expiresAt: number;
}

/** Grants of one pair at once that may collide before one gives up with 503. */
const GRANT_ATTEMPTS_MAX = 50;
/** Chain ends held in memory per process (the oldest go first). */
const HEADS_IN_MEMORY_MAX = 50_000;
/** Consents per insert while the migration writes heads. */
const MIGRATION_BATCH = 1000;
/** The migration's mark in `credit_sweep_marks`: present once every pair stored before has a head. */
export const CONSENT_HEADS_MARK = 'consent-heads-migrated';

const pairKey = (householdId: string, cooperativeId: string) => `${householdId}|${cooperativeId}`;

/** The `_id` of a pair's n-th consent (CN1): the first 12 bytes of a SHA-256, as an ObjectId. */
export function consentIdOf(householdId: string, cooperativeId: string, n: number) {
  const digest = createHash('sha256')
    .update(`credit-consent|${householdId}|${cooperativeId}|${n}`)
    .digest('hex');
  return new Types.ObjectId(digest.slice(0, 24));
}

/** Forgotten on every database connect (db.ts), like the ledger's head hints. */
const memory = registerHints(new Map<string, ChainHead>());
function remember(key: string, head: ChainHead | undefined): void {
  memory.delete(key);
  if (!head) return;
  memory.set(key, head);
  if (memory.size > HEADS_IN_MEMORY_MAX) memory.delete(memory.keys().next().value!);
}

/** Drops the chain ends held in memory, as a restart does (tests of the stored hint use it). */
export function forgetChainHeads(): void {
  memory.clear();
}

const fromHint = (h: ConsentHeadDoc | null): ChainHead | undefined =>
  h
    ? {
        seq: h.seq,
        id: h.consentId,
        grantedAt: h.grantedAt.getTime(),
        expiresAt: h.expiresAt.getTime(),
      }
    : undefined;

/**
 * The end of a pair's chain (CN3): from the hint in memory, else the stored one, then forward by
 * `_id` until the next link does not exist. Undefined: the pair has no consent at all.
 */
export async function chainHead(
  householdId: string,
  cooperativeId: string,
): Promise<ChainHead | undefined> {
  const key = pairKey(householdId, cooperativeId);
  let head = memory.get(key) ?? fromHint(await ConsentHead.findById(key).lean<ConsentHeadDoc>());
  for (;;) {
    const seq = (head?.seq ?? 0) + 1;
    const next = await Consent.findById(
      consentIdOf(householdId, cooperativeId, seq),
    ).lean<ConsentDoc>();
    if (!next) break;
    head = {
      seq,
      id: next._id.toHexString(),
      grantedAt: next.grantedAt.getTime(),
      expiresAt: next.expiresAt.getTime(),
    };
  }
  remember(key, head);
  return head;
}

/** Moves the stored hint by lone `_id`; a slower writer may move it back, which is harmless (CN3). */
async function writeHint(key: string, head: ChainHead): Promise<void> {
  try {
    await ConsentHead.updateOne(
      { _id: key },
      {
        $set: {
          seq: head.seq,
          consentId: head.id,
          grantedAt: new Date(head.grantedAt),
          expiresAt: new Date(head.expiresAt),
          updatedAt: new Date(),
        },
      },
      { upsert: true },
    );
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err; // two first upserts at once: either will do
  }
}

const backOff = (attempt: number) =>
  new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 5)));

/**
 * Records a consent as the next link of its pair's chain (CN1, CN2): grantedAt is `now`, or the
 * head's + 1 ms when the clock stands behind it. Returns the stored record.
 */
export async function appendConsent(
  fields: Omit<ConsentDoc, '_id' | 'grantedAt'>,
  now: Date,
): Promise<ConsentDoc> {
  const { householdId, cooperativeId } = fields;
  const key = pairKey(householdId, cooperativeId);
  for (let attempt = 1; attempt <= GRANT_ATTEMPTS_MAX; attempt++) {
    const head = await chainHead(householdId, cooperativeId);
    const seq = (head?.seq ?? 0) + 1;
    const grantedAt = new Date(Math.max(now.getTime(), (head?.grantedAt ?? 0) + 1));
    const doc: ConsentDoc = {
      _id: consentIdOf(householdId, cooperativeId, seq),
      ...fields,
      grantedAt,
    };
    try {
      await Consent.create([doc]);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      // Another grant took this link: read the chain again.
      memory.delete(key);
      await backOff(attempt);
      continue;
    }
    consentFaults.afterInsert?.(doc._id.toHexString());
    const end = {
      seq,
      id: doc._id.toHexString(),
      grantedAt: grantedAt.getTime(),
      expiresAt: fields.expiresAt.getTime(),
    };
    remember(key, end);
    await writeHint(key, end);
    return doc;
  }
  throw new DomainError('unavailable', 'Consents for this household are busy; retry shortly.');
}

/** Inserts heads, each refused alone when the pair has one already (a grant wrote it). */
async function insertHeads(docs: ConsentHeadDoc[]): Promise<number> {
  if (!docs.length) return 0;
  try {
    await ConsentHead.insertMany(docs, { ordered: false });
    return docs.length;
  } catch (err) {
    const writeErrors = (err as { writeErrors?: { err?: unknown }[] }).writeErrors;
    if (!isDuplicateKeyError(err) || !writeErrors?.every((e) => isDuplicateKeyError(e.err ?? e)))
      throw err;
    return docs.length - writeErrors.length;
  }
}

/**
 * Heads (seq 0) for consents stored without the chain: before chains existed, or by the
 * generator, which inserts its consents directly. For each pair, the latest of `consents` by
 * grantedAt (then id); a pair that has a head already keeps it (its chain starts after, CN2).
 */
export async function writeBaseHeads(
  consents: Iterable<ConsentDoc> | AsyncIterable<ConsentDoc>,
): Promise<number> {
  const latest = new Map<string, Pick<ConsentDoc, '_id' | 'grantedAt' | 'expiresAt'>>();
  for await (const c of consents) {
    const key = pairKey(c.householdId, c.cooperativeId);
    const best = latest.get(key);
    const t = c.grantedAt.getTime();
    if (
      !best ||
      t > best.grantedAt.getTime() ||
      (t === best.grantedAt.getTime() && c._id.toHexString() > best._id.toHexString())
    )
      latest.set(key, { _id: c._id, grantedAt: c.grantedAt, expiresAt: c.expiresAt });
  }
  const docs = [...latest].map(([key, c]) => ({
    _id: key,
    seq: 0,
    consentId: c._id.toHexString(),
    grantedAt: c.grantedAt,
    expiresAt: c.expiresAt,
    updatedAt: new Date(),
  }));
  let written = 0;
  for (let i = 0; i < docs.length; i += MIGRATION_BATCH)
    written += await insertHeads(docs.slice(i, i + MIGRATION_BATCH));
  return written;
}

/**
 * The consent-heads migration (CN3): gives every pair with consents stored before chains existed
 * a head naming the latest of them, so the look-up finds them by `_id`. One pass over
 * `credit_consents`, once per database: a mark records that it finished (until then it runs again
 * at every start; running it twice, or beside grants, is harmless). A database without consents
 * gets no mark, so a fresh database stays empty (`restore` goes into an empty database only).
 * Returns the heads written.
 */
export async function migrateConsentHeads(): Promise<number> {
  if (await SweepMark.findById(CONSENT_HEADS_MARK).lean()) return 0;
  let seen = 0;
  async function* counted(): AsyncIterable<ConsentDoc> {
    const cursor = Consent.find({}).lean<ConsentDoc[]>().cursor({ batchSize: MIGRATION_BATCH });
    for await (const c of cursor as AsyncIterable<unknown> as AsyncIterable<ConsentDoc>) {
      seen++;
      yield c;
    }
  }
  const written = await writeBaseHeads(counted());
  if (!seen) return 0;
  await setMark(SweepMark, CONSENT_HEADS_MARK, { through: new Date() });
  return written;
}

/** True when the database holds consents the migration has not been run over (after a restore). */
export async function consentHeadsPending(): Promise<boolean> {
  if (await SweepMark.findById(CONSENT_HEADS_MARK).lean()) return false;
  return (await Consent.exists({})) !== null;
}
