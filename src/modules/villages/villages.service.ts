/**
 * Villages: created by the county office (admin), each with a council policy (quorum and
 * notice period) and its service-order settings, placed under the township and county records
 * of the names it is created with.
 *
 * Invariants: `code` is unique (index), so a retried create is a 409, not a twin. A village
 * created with `{township, county}` is placed under those level records before it is stored
 * (levels L1), so no village is ever stored without its levels except those created before
 * levels existed, which `migrateVillageLevels` places (idempotent, run at start-up).
 */
import { Types } from 'mongoose';
import { DomainError, isDuplicateKeyError, notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { placeLevels } from '../levels/levels.service';
import { Village, type VillageDoc, type VillagePolicy } from './villages.model';

export const DEFAULT_POLICY: VillagePolicy = { quorum: 3, noticePeriod: 'P7D' };
/** A service order not accepted within two days escalates to the township station. */
export const DEFAULT_ORDER_TIMEOUT = 'PT48H';
export const DEFAULT_HOURS_RULE = 'volunteer-hour';
export const DEFAULT_CONCENTRATION_THRESHOLD = 0.6;
export const DEFAULT_CONCENTRATION_MIN_APPROVALS = 5;
/** Villages listed at once (a city has ~5,000). */
const VILLAGES_MAX = 10_000;

const OPTIONAL_POLICY_KEYS = ['redemptionDailyLimit', 'orderTimeout', 'ratedHoursNeedNoVote', 'hoursRuleCode', 'concentrationThreshold', 'concentrationMinApprovals'] as const;

export interface VillageView {
  id: string;
  name: string;
  code: string;
  township: string;
  county: string;
  townshipId?: string;
  countyId?: string;
  policy: VillagePolicy;
  createdAt: string;
}

export function toVillageView(v: VillageDoc): VillageView {
  const policy: VillagePolicy = { quorum: v.policy.quorum, noticePeriod: v.policy.noticePeriod };
  for (const k of OPTIONAL_POLICY_KEYS) {
    const value = v.policy[k];
    if (value !== undefined && value !== null) (policy as unknown as Record<string, unknown>)[k] = value;
  }
  const view: VillageView = {
    id: v._id.toHexString(),
    name: v.name,
    code: v.code,
    township: v.township,
    county: v.county,
    policy,
    createdAt: v.createdAt.toISOString(),
  };
  if (v.townshipId) view.townshipId = v.townshipId;
  if (v.countyId) view.countyId = v.countyId;
  return view;
}

/** The service-order and oversight settings of a village, defaults filled in. */
export function orderPolicyOf(v: Pick<VillageDoc, 'policy'>) {
  return {
    orderTimeout: v.policy.orderTimeout ?? DEFAULT_ORDER_TIMEOUT,
    ratedHoursNeedNoVote: v.policy.ratedHoursNeedNoVote ?? false,
    hoursRuleCode: v.policy.hoursRuleCode ?? DEFAULT_HOURS_RULE,
    concentrationThreshold: v.policy.concentrationThreshold ?? DEFAULT_CONCENTRATION_THRESHOLD,
    concentrationMinApprovals: v.policy.concentrationMinApprovals ?? DEFAULT_CONCENTRATION_MIN_APPROVALS,
  };
}

export async function createVillage(input: { name: string; code: string; township: string; county: string; policy?: VillagePolicy }): Promise<VillageView> {
  const levels = await placeLevels(input.township, input.county);
  try {
    const [doc] = await Village.create([{ ...input, ...levels, policy: input.policy ?? DEFAULT_POLICY }]);
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
  return reachesVillage(p, villageId);
}

export async function getVillage(p: Principal, villageId: string): Promise<VillageView> {
  const v = await findVillage(villageId);
  if (!v || !canSeeVillage(p, villageId)) throw notFound('village');
  return toVillageView(v);
}

/** A village the principal acts for, else `not_found`. */
export async function villageInReach(p: Principal, villageId: string): Promise<VillageDoc> {
  const v = reachesVillage(p, villageId) ? await findVillage(villageId) : undefined;
  if (!v) throw notFound('village');
  return v;
}

export async function listVillages(p: Principal): Promise<VillageView[]> {
  let filter: Record<string, unknown>;
  if (p.role === 'admin') filter = {};
  else if (p.role === 'township') filter = { townshipId: p.townshipId };
  else filter = { _id: p.villageId };
  const docs = await Village.find(filter).sort({ code: 1 }).limit(VILLAGES_MAX).lean<VillageDoc[]>();
  return docs.map(toVillageView);
}

/**
 * The ids of a township station's villages, by id. Read on every request of a township user
 * (FerretDB-SQLite scans the villages for it: a few thousand small documents; MongoDB uses the
 * `township` index).
 */
export async function villageIdsOfTownship(townshipId: string): Promise<string[]> {
  const docs = await Village.find({ townshipId }).select({ _id: 1 }).limit(VILLAGES_MAX).lean<{ _id: Types.ObjectId }[]>();
  return docs.map((d) => d._id.toHexString()).sort();
}

/** Every village, oldest first (jobs and reports; a scan). */
export async function listAllVillages(filter: { countyId?: string } = {}): Promise<VillageDoc[]> {
  return Village.find(filter.countyId ? { countyId: filter.countyId } : {})
    .sort({ _id: 1 })
    .limit(VILLAGES_MAX)
    .lean<VillageDoc[]>();
}

type PolicyPatch = Partial<Omit<VillagePolicy, 'redemptionDailyLimit'>> & { redemptionDailyLimit?: number | null };

export async function updateVillagePolicy(villageId: string, policy: PolicyPatch): Promise<VillageView> {
  const v = await findVillage(villageId);
  if (!v) throw notFound('village');
  const set: Record<string, unknown> = {};
  if (policy.quorum !== undefined) set['policy.quorum'] = policy.quorum;
  if (policy.noticePeriod !== undefined) set['policy.noticePeriod'] = policy.noticePeriod;
  for (const k of OPTIONAL_POLICY_KEYS) {
    const value = policy[k];
    if (value !== undefined && value !== null) set[`policy.${k}`] = value;
  }
  const unset: Record<string, ''> = policy.redemptionDailyLimit === null ? { 'policy.redemptionDailyLimit': '' } : {};
  if (Object.keys(set).length || Object.keys(unset).length) {
    await Village.updateOne({ _id: v._id }, { ...(Object.keys(set).length ? { $set: set } : {}), ...(Object.keys(unset).length ? { $unset: unset } : {}) });
  }
  return toVillageView((await Village.findById(v._id).lean<VillageDoc>())!);
}

/**
 * The levels migration: places every village stored without level ids (created before levels
 * existed) under the township and county records of its own `township` and `county` names,
 * creating them if missing. Only adds the two ids; every other field stays as it was.
 * Idempotent and safe to run from several processes at once (placement is L1; setting the
 * same ids twice is harmless). Returns how many villages it placed. A start-up scan.
 */
export async function migrateVillageLevels(): Promise<number> {
  const unplaced = await Village.find({ $or: [{ townshipId: { $exists: false } }, { countyId: { $exists: false } }] })
    .limit(VILLAGES_MAX)
    .lean<VillageDoc[]>();
  for (const v of unplaced) {
    const levels = await placeLevels(v.township, v.county);
    // Only the two ids: not even `updatedAt` changes (the village itself did not).
    await Village.updateOne({ _id: v._id }, { $set: levels }, { timestamps: false });
  }
  return unplaced.length;
}
