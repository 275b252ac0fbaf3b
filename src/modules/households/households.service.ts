/**
 * Households and their accounts. A clerk, council member or household sees only its own
 * village (a household only itself); anything outside reach is `not_found`, so that the
 * existence of another village's household is not revealed.
 *
 * Invariant: `cardNo` is unique (index); creation retried with the same card is a 409.
 */
import { Types } from 'mongoose';
import { DomainError, forbidden, isDuplicateKeyError, notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { getAccount, listEntries, postEntry, type AccountView, type EntryView } from '../ledger/ledger.service';
import { findVillage } from '../villages/villages.service';
import { Household, type HouseholdDoc } from './households.model';

export interface HouseholdView {
  id: string;
  villageId: string;
  head: string;
  members: { name: string }[];
  cardNo: string;
  createdAt: string;
}

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
export function canSeeHousehold(p: Principal, h: { _id: Types.ObjectId; villageId: string }): boolean {
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
    default:
      return false;
  }
}

export async function findHousehold(householdId: string): Promise<HouseholdDoc | undefined> {
  if (!Types.ObjectId.isValid(householdId)) return undefined;
  return (await Household.findById(householdId).lean<HouseholdDoc>()) ?? undefined;
}

export async function findHouseholdByCard(cardNo: string): Promise<HouseholdDoc | undefined> {
  return (await Household.findOne({ cardNo }).lean<HouseholdDoc>()) ?? undefined;
}

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
    throw new DomainError('validation_failed', 'No such village.', { errors: [{ path: 'villageId', message: 'no such village' }] });
  }
  return insertHousehold(input);
}

/** Inserts without a reach check (used by imports and the demo seed, which check their own). */
export async function insertHousehold(input: NewHousehold): Promise<HouseholdView> {
  try {
    const [doc] = await Household.create([{ villageId: input.villageId, head: input.head, members: input.members ?? [], cardNo: input.cardNo }]);
    return toHouseholdView(doc!.toObject());
  } catch (err) {
    if (isDuplicateKeyError(err)) throw new DomainError('conflict', `Card ${input.cardNo} is already registered.`);
    throw err;
  }
}

export async function getHousehold(p: Principal, householdId: string): Promise<HouseholdView> {
  return toHouseholdView(await householdInReach(p, householdId));
}

/** Lists households of a village in id order, a page at a time. */
export async function listHouseholds(p: Principal, q: { villageId?: string; after?: string; limit?: number }) {
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
  const limit = q.limit ?? 100;
  if (villageId) filter.villageId = villageId;
  if (q.after) filter._id = { $gt: new Types.ObjectId(q.after) };
  const docs = await Household.find(filter).sort({ _id: 1 }).limit(limit + 1).lean<HouseholdDoc[]>();
  const items = docs.slice(0, limit).map(toHouseholdView);
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}

export async function getHouseholdAccount(p: Principal, householdId: string): Promise<AccountView> {
  await householdInReach(p, householdId);
  return getAccount(householdId);
}

export async function getHouseholdEntries(p: Principal, householdId: string, after: number, limit: number) {
  await householdInReach(p, householdId);
  return listEntries(householdId, after, limit);
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
  await householdInReach(p, householdId);
  // The key is the caller's and names one request to one household: scoped by both, so a key
  // reused on another household can never be answered with the first household's entry.
  const sourceId = idempotencyKey ? `${p.id}:${householdId}:${idempotencyKey}` : new Types.ObjectId().toHexString();
  const { entry, created } = await postEntry({
    householdId,
    type: 'adjustment',
    points: input.points,
    spendableDelta: input.points,
    meritDelta: input.points,
    shortfall: 'clamp',
    source: { type: 'adjustment', id: sourceId },
    reason: input.reason,
  });
  if (!created && (entry.points !== input.points || entry.reason !== input.reason)) {
    throw new DomainError('idempotency_key_reused', 'This Idempotency-Key was used for a different adjustment.');
  }
  return entry;
}

/** Every household of some villages, in id order (reports and jobs: one scan on FerretDB-SQLite). */
export async function listHouseholdsOfVillages(villageIds: readonly string[]): Promise<HouseholdDoc[]> {
  if (!villageIds.length) return [];
  const filter = villageIds.length === 1 ? { villageId: villageIds[0] } : { villageId: { $in: [...villageIds] } };
  return Household.find(filter).sort({ _id: 1 }).limit(2_000_000).lean<HouseholdDoc[]>();
}
