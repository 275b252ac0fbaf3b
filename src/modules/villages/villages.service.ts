/**
 * Villages: created by the county office (admin), each with a council policy (quorum and
 * notice period). Invariant: `code` is unique (index), so a retried create is a 409, not a twin.
 */
import { Types } from 'mongoose';
import { DomainError, isDuplicateKeyError, notFound } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { Village, type VillageDoc, type VillagePolicy } from './villages.model';

export const DEFAULT_POLICY: VillagePolicy = { quorum: 3, noticePeriod: 'P7D' };
/** A deed may be filed up to this many days after it happened, unless the village sets another window. */
export const DEFAULT_OCCURRED_ON_WINDOW_DAYS = 90;

export interface VillageView {
  id: string;
  name: string;
  code: string;
  township: string;
  county: string;
  policy: VillagePolicy;
  createdAt: string;
}

export function toVillageView(v: VillageDoc): VillageView {
  return {
    id: v._id.toHexString(),
    name: v.name,
    code: v.code,
    township: v.township,
    county: v.county,
    policy: {
      quorum: v.policy.quorum,
      noticePeriod: v.policy.noticePeriod,
      ...(typeof v.policy.redemptionDailyLimit === 'number' ? { redemptionDailyLimit: v.policy.redemptionDailyLimit } : {}),
      occurredOnWindowDays: v.policy.occurredOnWindowDays ?? DEFAULT_OCCURRED_ON_WINDOW_DAYS,
    },
    createdAt: v.createdAt.toISOString(),
  };
}

export async function createVillage(input: { name: string; code: string; township: string; county: string; policy?: VillagePolicy }): Promise<VillageView> {
  try {
    const [doc] = await Village.create([{ ...input, policy: input.policy ?? DEFAULT_POLICY }]);
    return toVillageView(doc!.toObject());
  } catch (err) {
    if (isDuplicateKeyError(err)) throw new DomainError('conflict', `A village with code ${input.code} already exists.`);
    throw err;
  }
}

/** Finds a village by id; undefined for malformed ids too. */
export async function findVillage(villageId: string): Promise<VillageDoc | undefined> {
  if (!Types.ObjectId.isValid(villageId)) return undefined;
  return (await Village.findById(villageId).lean<VillageDoc>()) ?? undefined;
}

/** Whether the principal may see records of this village. */
export function canSeeVillage(p: Principal, villageId: string): boolean {
  if (p.role === 'admin') return true;
  return p.villageId === villageId;
}

export async function getVillage(p: Principal, villageId: string): Promise<VillageView> {
  const v = await findVillage(villageId);
  if (!v || !canSeeVillage(p, villageId)) throw notFound('village');
  return toVillageView(v);
}

export async function listVillages(p: Principal): Promise<VillageView[]> {
  const filter = p.role === 'admin' ? {} : { _id: p.villageId };
  const docs = await Village.find(filter).sort({ code: 1 }).limit(10_000).lean<VillageDoc[]>();
  return docs.map(toVillageView);
}

export async function updateVillagePolicy(
  villageId: string,
  policy: Partial<Omit<VillagePolicy, 'redemptionDailyLimit'>> & { redemptionDailyLimit?: number | null },
): Promise<VillageView> {
  const v = await findVillage(villageId);
  if (!v) throw notFound('village');
  const set: Record<string, unknown> = {};
  if (policy.quorum !== undefined) set['policy.quorum'] = policy.quorum;
  if (policy.noticePeriod !== undefined) set['policy.noticePeriod'] = policy.noticePeriod;
  if (typeof policy.redemptionDailyLimit === 'number') set['policy.redemptionDailyLimit'] = policy.redemptionDailyLimit;
  if (policy.occurredOnWindowDays !== undefined) set['policy.occurredOnWindowDays'] = policy.occurredOnWindowDays;
  const unset: Record<string, ''> = policy.redemptionDailyLimit === null ? { 'policy.redemptionDailyLimit': '' } : {};
  if (Object.keys(set).length || Object.keys(unset).length) {
    await Village.updateOne({ _id: v._id }, { ...(Object.keys(set).length ? { $set: set } : {}), ...(Object.keys(unset).length ? { $unset: unset } : {}) });
  }
  return toVillageView((await Village.findById(v._id).lean<VillageDoc>())!);
}
