/**
 * Villages: created by the county office (admin), each with a council policy (quorum and
 * notice period) and its service-order settings, placed under the township and county records
 * of the names it is created with.
 *
 * Invariants: `code` is unique (index), so a retried create is a 409, not a twin. A village
 * created with `{township, county}` is placed under those level records before it is stored
 * (levels LV1), so no village is ever stored without its levels except those created before
 * levels existed, which `migrateVillageLevels` places (idempotent, run at start-up).
 */
import { Types } from 'mongoose';
import { findLeanById } from '../../platform/db';
import { DomainError, isDuplicateKeyError, notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { addVillageToTownship, placeLevels, villageIdsOfTownship } from '../levels/levels.service';
import { Village, type VillageDoc, type VillagePolicy } from './villages.model';
import { ConfigCache } from '../../platform/config-cache';
import type { z } from '../../platform/validation';
import type { villageSchema } from './villages.schemas';

export const DEFAULT_POLICY: VillagePolicy = { quorum: 3, noticePeriod: 'P7D' };
/** A deed may be filed up to this many days after it happened, unless the village sets another window. */
export const DEFAULT_OCCURRED_ON_WINDOW_DAYS = 90;
/** A service order not accepted within two days escalates to the township station. */
export const DEFAULT_ORDER_TIMEOUT = 'PT48H';
export const DEFAULT_HOURS_RULE = 'volunteer-hour';
export const DEFAULT_CONCENTRATION_THRESHOLD = 0.6;
export const DEFAULT_CONCENTRATION_MIN_APPROVALS = 5;
/** Villages listed at once (a city has ~5,000). */
const VILLAGES_MAX = 10_000;

const OPTIONAL_POLICY_KEYS = [
  'redemptionDailyLimit',
  'occurredOnWindowDays',
  'orderTimeout',
  'ratedHoursNeedNoVote',
  'hoursRuleCode',
  'concentrationThreshold',
  'concentrationMinApprovals',
] as const;

export type VillageView = z.infer<typeof villageSchema>;

export function toVillageView(v: VillageDoc): VillageView {
  const policy: VillagePolicy = { quorum: v.policy.quorum, noticePeriod: v.policy.noticePeriod };
  for (const k of OPTIONAL_POLICY_KEYS) {
    const value = v.policy[k];
    if (value !== undefined && value !== null)
      (policy as unknown as Record<string, unknown>)[k] = value;
  }
  const view: VillageView = {
    id: v._id.toHexString(),
    name: v.name,
    code: v.code,
    township: v.township,
    county: v.county,
    policy: {
      ...policy,
      occurredOnWindowDays: v.policy.occurredOnWindowDays ?? DEFAULT_OCCURRED_ON_WINDOW_DAYS,
    },
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
    concentrationMinApprovals:
      v.policy.concentrationMinApprovals ?? DEFAULT_CONCENTRATION_MIN_APPROVALS,
  };
}

export async function createVillage(input: {
  name: string;
  code: string;
  township: string;
  county: string;
  policy?: VillagePolicy;
}): Promise<VillageView> {
  const levels = await placeLevels(input.township, input.county);
  // Into the township's list first (levels LV3): a stored village is never missing from it.
  const _id = new Types.ObjectId();
  await addVillageToTownship(levels.townshipId, _id.toHexString());
  try {
    const [doc] = await Village.create([
      { _id, ...input, ...levels, policy: input.policy ?? DEFAULT_POLICY },
    ]);
    return toVillageView(doc!.toObject());
  } catch (err) {
    if (isDuplicateKeyError(err))
      throw new DomainError(
        'village_code_taken',
        `A village with code ${input.code} already exists.`,
      );
    throw err;
  }
}

/** How many of these distinct, well-formed village ids name a stored village. */
export async function countStoredVillages(villageIds: readonly string[]): Promise<number> {
  return Village.countDocuments({ _id: { $in: villageIds.map((v) => new Types.ObjectId(v)) } });
}

/** Finds a village by id; undefined for malformed ids too. */
/** Villages and their policies by id, cached (platform/config-cache.ts: a change is seen at once). */
const cachedVillages = new ConfigCache<VillageDoc>('villages');

export async function findVillage(villageId: string): Promise<VillageDoc | undefined> {
  if (!Types.ObjectId.isValid(villageId)) return undefined;
  return cachedVillages.get(
    villageId,
    async () => (await findLeanById<VillageDoc>(Village, villageId)) ?? undefined,
  );
}

/**
 * The villages a clerk's spreadsheet may mean by `value`: the one with that id or code, else
 * those with that name (at most two: names repeat across townships, and two matches are
 * reported as ambiguous, never guessed). Used by the roster import.
 */
export async function findVillagesNamed(value: string): Promise<VillageDoc[]> {
  if (/^[a-f0-9]{24}$/.test(value)) {
    const byId = await findVillage(value);
    if (byId) return [byId];
  }
  const byCode = await Village.findOne({ code: value }).lean<VillageDoc>();
  if (byCode) return [byCode];
  return Village.find({ name: value }).limit(2).lean<VillageDoc[]>();
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
  let docs: VillageDoc[];
  if (p.role === 'admin') {
    docs = await Village.find({}).sort({ code: 1 }).limit(VILLAGES_MAX).lean<VillageDoc[]>();
  } else {
    // A township's villages (or one's own) by primary key; ids of refused creates find nothing.
    const ids = p.role === 'township' ? (p.villageIds ?? []) : p.villageId ? [p.villageId] : [];
    docs = (await Promise.all(ids.map((id) => findVillage(id)))).filter((v): v is VillageDoc =>
      Boolean(v),
    );
    docs.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  }
  return docs.map(toVillageView);
}

/** The stored villages of a township station, by id (its list may name a refused create). */
export async function storedVillageIdsOfTownship(townshipId: string): Promise<string[]> {
  const ids = await villageIdsOfTownship(townshipId);
  const found = await Promise.all(ids.map((id) => findVillage(id)));
  return ids.filter((_, i) => found[i]);
}

/** Every village, oldest first (jobs and reports; a scan). */
export async function listAllVillages(filter: { countyId?: string } = {}): Promise<VillageDoc[]> {
  return Village.find(filter.countyId ? { countyId: filter.countyId } : {})
    .sort({ _id: 1 })
    .limit(VILLAGES_MAX)
    .lean<VillageDoc[]>();
}

type PolicyPatch = Partial<Omit<VillagePolicy, 'redemptionDailyLimit'>> & {
  redemptionDailyLimit?: number | null;
};

export async function updateVillagePolicy(
  villageId: string,
  policy: PolicyPatch,
): Promise<VillageView> {
  const v = await findVillage(villageId);
  if (!v) throw notFound('village');
  const set: Record<string, unknown> = {};
  if (policy.quorum !== undefined) set['policy.quorum'] = policy.quorum;
  if (policy.noticePeriod !== undefined) set['policy.noticePeriod'] = policy.noticePeriod;
  for (const k of OPTIONAL_POLICY_KEYS) {
    const value = policy[k];
    if (value !== undefined && value !== null) set[`policy.${k}`] = value;
  }
  const unset: Record<string, ''> =
    policy.redemptionDailyLimit === null ? { 'policy.redemptionDailyLimit': '' } : {};
  if (Object.keys(set).length || Object.keys(unset).length) {
    await Village.updateOne(
      { _id: v._id },
      {
        ...(Object.keys(set).length ? { $set: set } : {}),
        ...(Object.keys(unset).length ? { $unset: unset } : {}),
      },
    );
  }
  return toVillageView((await Village.findById(v._id).lean<VillageDoc>())!);
}

/**
 * The levels migration: places every village stored without level ids (created before levels
 * existed) under the township and county records of its own `township` and `county` names,
 * creating them if missing, and makes sure every village is in its township's list (levels LV3).
 * Only adds the two ids to a village; every other field stays as it was. Idempotent and safe to
 * run from several processes at once (placement is LV1, the list's appends are once per village;
 * setting the same ids twice is harmless). Returns how many villages it placed. A start-up scan
 * of the villages, one list head read per township.
 */
export async function migrateVillageLevels(): Promise<number> {
  const villages = await Village.find({}).limit(VILLAGES_MAX).lean<VillageDoc[]>();
  const listed = new Map<string, Set<string>>();
  let placed = 0;
  for (const v of villages) {
    let townshipId = v.townshipId;
    if (!townshipId || !v.countyId) {
      const levels = await placeLevels(v.township, v.county);
      // Only the two ids: not even `updatedAt` changes (the village itself did not).
      await Village.updateOne({ _id: v._id }, { $set: levels }, { timestamps: false });
      townshipId = levels.townshipId;
      placed++;
    }
    if (!listed.has(townshipId))
      listed.set(townshipId, new Set(await villageIdsOfTownship(townshipId)));
    const id = v._id.toHexString();
    if (!listed.get(townshipId)!.has(id)) {
      await addVillageToTownship(townshipId, id);
      listed.get(townshipId)!.add(id);
    }
  }
  return placed;
}
