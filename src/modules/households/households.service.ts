/**
 * Households and their accounts. A clerk, council member or household sees only its own
 * village (a household only itself); anything outside reach is `not_found`, so that the
 * existence of another village's household is not revealed.
 *
 * Invariant: `cardNo` is unique (index); creation retried with the same card is a 409.
 * An adjustment's ledger source is an opaque id (adjustments.model.ts), never the admin's user
 * id or the caller's Idempotency-Key: entries are shown to households, and hashed for ever.
 */
import assert from 'node:assert/strict';
import { Types } from 'mongoose';
import { DomainError, forbidden, isDuplicateKeyError, notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import {
  adjust,
  getAccount,
  listEntries,
  warmHead,
  type AccountView,
  type EntryView,
} from '../ledger/ledger.service';
import { findVillage } from '../villages/villages.service';
import { AdjustmentRequest, type AdjustmentRequestDoc } from './adjustments.model';
import { Household, type HouseholdDoc } from './households.model';
import { cardTaken, claimCardEntry, findHousehold, indexCard } from './households.cards';
import type { z } from '../../platform/validation';
import type { householdSchema } from './households.schemas';

/** A household as the API shows it: the shape `householdSchema` declares. */
export type HouseholdView = z.infer<typeof householdSchema>;

export function toHouseholdView(h: HouseholdDoc): HouseholdView {
  return {
    id: h._id.toHexString(),
    villageId: h.villageId,
    head: h.head,
    members: (h.members ?? []).map((m) => ({ name: m.name })),
    cardNo: h.cardNo,
    createdAt: h.createdAt.toISOString(),
  };
}

/** Whether a principal may read this household's records. */
export function canSeeHousehold(
  p: Principal,
  h: { _id: Types.ObjectId; villageId: string },
): boolean {
  switch (p.role) {
    case 'admin':
      return true;
    case 'clerk':
    case 'council':
    case 'supervisor':
      return p.villageId === h.villageId;
    case 'township':
      return reachesVillage(p, h.villageId);
    case 'household':
      return p.householdId === h._id.toHexString();
    case 'officer':
    case 'terminal':
      return false;
  }
}

export { cardHolderGuess, findHousehold, findHouseholdByCard } from './households.cards';

/** Loads a household the principal may see, else `not_found`. */
export async function householdInReach(p: Principal, householdId: string): Promise<HouseholdDoc> {
  const h = await findHousehold(householdId);
  if (!h || !canSeeHousehold(p, h)) throw notFound('household');
  return h;
}

export interface NewHousehold {
  villageId: string;
  head: string;
  members?: { name: string }[];
  cardNo: string;
}

/** Creates a household in a village the principal manages (clerk of that village, or admin). */
export async function createHousehold(p: Principal, input: NewHousehold): Promise<HouseholdView> {
  if (p.role === 'clerk' && p.villageId !== input.villageId) {
    throw new DomainError('forbidden', 'A clerk registers households of their own village only.');
  }
  const village = await findVillage(input.villageId);
  if (!village) {
    throw new DomainError('validation_failed', 'No such village.', {
      errors: [{ path: 'villageId', message: 'no such village' }],
    });
  }
  return insertHousehold(input);
}

/**
 * Inserts without a reach check (used by imports and the demo seed, which check their own). The
 * card's index entry is written first, so a household never exists without one; a registration
 * refused because another took the card meanwhile points the entry back at that holder.
 */
export async function insertHousehold(input: NewHousehold): Promise<HouseholdView> {
  const _id = new Types.ObjectId();
  await claimCardEntry(input.cardNo, _id.toHexString());
  let doc: HouseholdDoc;
  try {
    const [created] = await Household.create([
      {
        _id,
        villageId: input.villageId,
        head: input.head,
        members: input.members ?? [],
        cardNo: input.cardNo,
      },
    ]);
    doc = created!.toObject();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const holder = await Household.findOne({ cardNo: input.cardNo }).lean<HouseholdDoc>();
    if (holder) await indexCard(input.cardNo, holder._id.toHexString());
    throw cardTaken(input.cardNo);
  }
  return toHouseholdView(doc);
}

export async function getHousehold(p: Principal, householdId: string): Promise<HouseholdView> {
  return toHouseholdView(await householdInReach(p, householdId));
}

/** Most matches a search returns: a clerk picks one household from a short list. */
export const SEARCH_RESULTS_MAX = 50;

/** Whether a household matches a clerk's search: its whole card number, or part of a name. */
export function matchesSearch(
  h: Pick<HouseholdDoc, 'cardNo' | 'head' | 'members'>,
  q: string,
): boolean {
  const needle = q.trim().normalize('NFC');
  if (!needle) return false;
  if (h.cardNo.toUpperCase() === needle.toUpperCase()) return true;
  return h.head.includes(needle) || (h.members ?? []).some((m) => m.name.includes(needle));
}

/**
 * Finds households of one village by card number or name. It reads the village's households
 * and matches them here: on MongoDB the (villageId, _id) index bounds the read to one village;
 * on FerretDB's SQLite backend any filter but `_id` scans the collection, which is fine for a
 * village office's roster (hundreds of households), not for a city-wide search.
 */
async function searchHouseholds(
  villageId: string | undefined,
  q: string,
  limit: number,
): Promise<HouseholdView[]> {
  const filter = villageId ? { villageId } : {};
  const found: HouseholdView[] = [];
  const cursor = Household.find(filter)
    .sort({ _id: 1 })
    .lean<HouseholdDoc[]>()
    .cursor({ batchSize: 500 });
  for await (const h of cursor) {
    if (!matchesSearch(h, q)) continue;
    found.push(toHouseholdView(h));
    if (found.length >= limit) break;
  }
  await cursor.close();
  // An exact card match first: a clerk who scanned a card wants that household on top.
  return found.sort(
    (a, b) =>
      Number(b.cardNo.toUpperCase() === q.trim().toUpperCase()) -
      Number(a.cardNo.toUpperCase() === q.trim().toUpperCase()),
  );
}

/** Lists households of a village in id order, a page at a time, or those matching `q`. */
export async function listHouseholds(
  p: Principal,
  q: { villageId?: string; q?: string; after?: string; limit?: number },
) {
  let villageId = q.villageId;
  const filter: Record<string, unknown> = {};
  if (p.role === 'clerk' || p.role === 'council' || p.role === 'supervisor') {
    if (villageId && villageId !== p.villageId) throw notFound('village');
    villageId = p.villageId;
  } else if (p.role === 'township') {
    if (villageId && !reachesVillage(p, villageId)) throw notFound('village');
    if (!villageId) filter.villageId = { $in: p.villageIds ?? [] };
  } else if (p.role !== 'admin') {
    throw forbidden();
  }
  if (q.q !== undefined) {
    return {
      items: await searchHouseholds(
        villageId,
        q.q,
        Math.min(q.limit ?? SEARCH_RESULTS_MAX, SEARCH_RESULTS_MAX),
      ),
      next: null,
    };
  }
  const limit = q.limit ?? 100;
  if (villageId) filter.villageId = villageId;
  if (q.after) filter._id = { $gt: new Types.ObjectId(q.after) };
  const docs = await Household.find(filter)
    .sort({ _id: 1 })
    .limit(limit + 1)
    .lean<HouseholdDoc[]>();
  const items = docs.slice(0, limit).map(toHouseholdView);
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}

export async function getHouseholdAccount(p: Principal, householdId: string): Promise<AccountView> {
  await householdInReach(p, householdId);
  return getAccount(householdId);
}

export async function getHouseholdEntries(
  p: Principal,
  householdId: string,
  after: number,
  limit: number,
) {
  await householdInReach(p, householdId);
  return listEntries(householdId, after, limit);
}

/**
 * The opaque ledger source of an adjustment. Without a key: a fresh id. With a key: the id its
 * first request recorded (A1), so a retry posts under the same source, once; the key with
 * other values is `idempotency_key_reused`. The key names one request by one admin to one
 * household, so a key reused on another household is a new request, never the first one's entry.
 */
async function adjustmentSourceId(
  p: Principal,
  householdId: string,
  input: { points: number; reason: string },
  key: string | undefined,
): Promise<string> {
  const fresh = new Types.ObjectId().toHexString();
  if (key === undefined) return fresh;
  const _id = `${householdId}:${p.id}:${key}`;
  try {
    await AdjustmentRequest.create([
      {
        _id,
        adjustmentId: fresh,
        householdId,
        actorId: p.id,
        key,
        points: input.points,
        reason: input.reason,
        createdAt: new Date(),
      },
    ]);
    return fresh;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  const first = await AdjustmentRequest.findById(_id).lean<AdjustmentRequestDoc>();
  assert.ok(first, 'A2: a request that refused a duplicate is there to read');
  if (first.points !== input.points || first.reason !== input.reason) {
    throw new DomainError(
      'idempotency_key_reused',
      'This Idempotency-Key was used for a different adjustment.',
    );
  }
  return first.adjustmentId;
}

/**
 * An admin correction, itself an entry (type `adjustment`): positive acts as an award,
 * negative as a deduction (merit by the full amount, spendable by at most what is left).
 * With an idempotency key the same request posts once; the key with other values is refused.
 */
export async function adjustHousehold(
  p: Principal,
  householdId: string,
  input: { points: number; reason: string },
  idempotencyKey: string | undefined,
): Promise<EntryView> {
  // The ledger's head is read beside the household (reads only, and a hint never decides: ledger
  // C4), so a first posting to the household waits for one read fewer; a failed warm-up is left
  // to the posting's own reading.
  const [reach] = await Promise.allSettled([
    householdInReach(p, householdId),
    warmHead(householdId),
  ]);
  if (reach.status === 'rejected') throw reach.reason;
  const sourceId = await adjustmentSourceId(p, householdId, input, idempotencyKey);
  const { entry, created } = await adjust({
    householdId,
    points: input.points,
    source: { type: 'adjustment', id: sourceId },
    reason: input.reason,
  });
  if (!created && (entry.points !== input.points || entry.reason !== input.reason)) {
    throw new DomainError(
      'idempotency_key_reused',
      'This Idempotency-Key was used for a different adjustment.',
    );
  }
  return entry;
}

/** Every household of some villages, in id order (reports and jobs: one scan on FerretDB-SQLite). */
export async function listHouseholdsOfVillages(
  villageIds: readonly string[],
): Promise<HouseholdDoc[]> {
  if (!villageIds.length) return [];
  const filter =
    villageIds.length === 1
      ? { villageId: villageIds[0] }
      : { villageId: { $in: [...villageIds] } };
  return Household.find(filter).sort({ _id: 1 }).limit(2_000_000).lean<HouseholdDoc[]>();
}

/** What a reader outside the module (credit scoring and exports) sees of one household. */
export interface HouseholdFacts {
  id: string;
  villageId: string;
  head: string;
  createdAt: Date;
}

/**
 * Streams the households of some villages, or of every village (`'all'`), optionally only those
 * created by `createdThrough`, without a sort: one pass over the collection for the credit jobs.
 */
export async function* streamHouseholdsOfVillages(
  villageIds: readonly string[] | 'all',
  opts: { createdThrough?: Date; batchSize?: number } = {},
): AsyncGenerator<HouseholdFacts> {
  if (!villageIds.length) return;
  const ofVillages =
    villageIds === 'all'
      ? {}
      : { villageId: villageIds.length === 1 ? villageIds[0] : { $in: [...villageIds] } };
  const cursor = Household.find({
    ...ofVillages,
    ...(opts.createdThrough ? { createdAt: { $lte: opts.createdThrough } } : {}),
  })
    .select({ _id: 1, villageId: 1, head: 1, createdAt: 1 })
    .lean<Pick<HouseholdDoc, '_id' | 'villageId' | 'head' | 'createdAt'>[]>()
    .cursor({ batchSize: opts.batchSize ?? 1000 });
  for await (const h of cursor)
    yield { id: h._id.toHexString(), villageId: h.villageId, head: h.head, createdAt: h.createdAt };
}

/** How many households some villages have. */
export async function countHouseholdsOfVillages(villageIds: readonly string[]): Promise<number> {
  if (!villageIds.length) return 0;
  return Household.countDocuments({
    villageId: villageIds.length === 1 ? villageIds[0] : { $in: [...villageIds] },
  });
}
