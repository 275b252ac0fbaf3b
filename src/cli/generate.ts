/**
 * `generate`: writes a realistic county or city (see generate-plan.ts) for benches and
 * demonstrations: villages, county cooperatives, households with cards, K years of entries
 * (awards, deductions, supermarket redemptions) and consents for some households.
 *
 * Invariants:
 * - Every entry goes through the ledger's verbs, at the instant the plan gives it (the
 *   simulated clock, generate-clock.ts): chains, balances and hashes are the ledger's own, and
 *   `verify-chain` verifies every one afterwards.
 * - Resumable and idempotent: records have ids derived from the seed, so a re-run with the same
 *   options inserts nothing twice (the unique `_id` and `cardNo` decide); a household's postings
 *   resume after its chain's head (its entries are posted in plan order and nothing else posts
 *   to generated households); a finished village leaves a marker and is skipped on re-runs.
 * - Villages and cooperatives go through their services. Households and consents are inserted
 *   in batches through their models (validated by the same schemas) with ids derived from the
 *   seed: the services would draw random ids, which a re-run could not find again.
 */
import mongoose, { Types } from 'mongoose';
import { isDuplicateKeyError } from '../platform/errors';
import { Cooperative } from '../modules/cooperatives/cooperatives.model';
import { createCooperative } from '../modules/cooperatives/cooperatives.service';
import { DEFAULT_PURPOSE } from '../modules/credit/consents.service';
import { writeBaseHeads } from '../modules/credit/consent-chain';
import { Consent, CONSENT_FIELDS } from '../modules/credit/credit.model';
import { Household, HouseholdCard } from '../modules/households/households.model';
import { award, deduct, getAccount, redeem } from '../modules/ledger/ledger.service';
import { Village } from '../modules/villages/villages.model';
import { createVillage, DEFAULT_POLICY } from '../modules/villages/villages.service';
import { atSimulatedTime, installSimulatedClock } from './generate-clock';
import {
  GENERATE_SOURCE_TYPE,
  planCity,
  planHousehold,
  type CityPlan,
  type GenerateOptions,
  type HouseholdPlan,
  type VillagePlan,
} from './generate-plan';

/** Households whose entries are posted at once. Chains of different households never contend. */
export const GENERATE_CONCURRENCY_DEFAULT = 4;
/** Households and consents per insertMany. */
const INSERT_BATCH = 500;
/** Who recorded the generated consents (there is no clerk user behind them). */
const RECORDED_BY = 'cli:generate';

export interface GenerateProgress {
  households: number;
  householdsTotal: number;
  entriesPosted: number;
  elapsedMs: number;
}

export interface GenerateDeps {
  /** Households posted at once (default GENERATE_CONCURRENCY_DEFAULT). */
  concurrency?: number;
  /** Called after each village. */
  onProgress?: (p: GenerateProgress) => void;
  /**
   * Epoch ms after which no further village is begun (the bench's `--generate-minutes`): the
   * city is then written as far as `villagesWritten`, in plan order; a later run resumes it.
   */
  deadline?: number;
}

export interface GenerateReport {
  villages: number;
  villagesCreated: number;
  /** Villages skipped because a previous run finished them. */
  villagesDone: number;
  /** Villages written through, in plan order (all of them unless `deadline` stopped the run). */
  villagesWritten: number;
  /** Households of those villages. */
  householdsWritten: number;
  households: number;
  householdsCreated: number;
  /** Entries in the plan (every generated chain has exactly these, after a complete run). */
  entries: number;
  entriesPosted: number;
  consents: number;
  consentsCreated: number;
  elapsedMs: number;
  /** Milliseconds of this run per 10,000 households it wrote (undefined when it wrote none). */
  msPer10kHouseholds?: number;
  /** Village ids by code, and county cooperative ids, for callers that go on to use them. */
  villageIds: Map<string, string>;
  cooperativeIds: string[];
}

interface MarkerDoc {
  _id: string;
  households: number;
  entries: number;
  consents: number;
  finishedAt: Date;
}

const markers = () => mongoose.connection.db!.collection<MarkerDoc>('meta');
const markerId = (seed: number, code: string) => `generate:${seed}:${code}`;

/** Creates the villages of the plan that do not exist yet; returns every village id by code. */
async function ensureVillages(
  city: CityPlan,
  seed: number,
  startMs: number,
): Promise<{ ids: Map<string, string>; created: number }> {
  const prefix = `G${seed}-`;
  const ids = new Map<string, string>();
  // One read of the generated villages (a small collection), instead of one look-up per code.
  for (const v of await Village.find({ code: { $regex: `^${prefix}` } })
    .select({ code: 1 })
    .lean())
    ids.set(v.code, v._id.toHexString());
  let created = 0;
  for (const v of city.villages) {
    if (ids.has(v.code)) continue;
    const county = city.counties[v.county]!.name;
    const view = await atSimulatedTime(startMs, () =>
      createVillage({
        name: v.name,
        code: v.code,
        township: v.township,
        county,
        policy: DEFAULT_POLICY,
      }),
    );
    ids.set(v.code, view.id);
    created++;
  }
  return { ids, created };
}

/** One cooperative per county serving all its villages; found again by its first village. */
async function ensureCooperatives(
  city: CityPlan,
  villageIds: Map<string, string>,
  startMs: number,
): Promise<string[]> {
  const existing = await Cooperative.find({}).select({ villageIds: 1 }).lean();
  const out: string[] = [];
  for (const c of city.counties) {
    const ids = city.villages
      .slice(c.villages[0], c.villages[1])
      .map((v) => villageIds.get(v.code)!);
    const found = existing.find((e) => e.villageIds[0] === ids[0]);
    if (found) {
      out.push(found._id.toHexString());
      continue;
    }
    const view = await atSimulatedTime(startMs, () =>
      createCooperative({ name: c.cooperativeName, villageIds: ids }),
    );
    out.push(view.id);
  }
  return out;
}

/** Inserts documents, each succeeding or failing alone; returns the indexes that already existed. */
async function insertMissing(model: mongoose.Model<never>, docs: object[]): Promise<Set<number>> {
  const existed = new Set<number>();
  for (let from = 0; from < docs.length; from += INSERT_BATCH) {
    const batch = docs.slice(from, from + INSERT_BATCH);
    try {
      await model.insertMany(batch as never[], { ordered: false });
    } catch (err) {
      const writeErrors = (
        err as { writeErrors?: { index: number; code?: number; err?: { code?: number } }[] }
      ).writeErrors;
      if (
        !writeErrors ||
        !writeErrors.every((w) => isDuplicateKeyError(w) || isDuplicateKeyError(w.err))
      )
        throw err;
      for (const w of writeErrors) existed.add(from + w.index);
    }
  }
  return existed;
}

/** Posts a household's planned entries after those its chain already holds. */
async function postHistory(plan: HouseholdPlan, isNew: boolean): Promise<number> {
  const done = isNew ? 0 : (await getAccount(plan.id)).entryCount;
  let posted = 0;
  for (const e of plan.entries.slice(done)) {
    const verb = { award, deduction: deduct, redemption: redeem }[e.type];
    const { created } = await atSimulatedTime(e.at, () =>
      verb({
        householdId: plan.id,
        points: Math.abs(e.points),
        source: { type: GENERATE_SOURCE_TYPE, id: e.sourceId },
        ...(e.ruleCode ? { ruleCode: e.ruleCode } : {}),
        reason: e.reason,
      }),
    );
    if (created) posted++;
  }
  return posted;
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface VillageResult {
  householdsCreated: number;
  entriesPosted: number;
  consentsCreated: number;
  entries: number;
  consents: number;
}

async function generateVillage(
  opts: GenerateOptions,
  village: VillagePlan,
  ctx: { villageId: string; cooperativeId: string; cooperativeName: string; concurrency: number },
): Promise<VillageResult> {
  const plans = Array.from({ length: village.households }, (_, i) =>
    planHousehold(opts, village, i),
  );
  // The card index (households.model.ts) first, as registering a household writes it: a
  // household never exists without its entry.
  await insertMissing(
    HouseholdCard as never,
    plans.map((h) => ({ _id: h.cardNo, householdId: h.id })),
  );
  const existed = await insertMissing(
    Household as never,
    plans.map((h) => ({
      _id: new Types.ObjectId(h.id),
      villageId: ctx.villageId,
      head: h.head,
      members: h.members.map((name) => ({ name })),
      cardNo: h.cardNo,
      createdAt: new Date(h.registeredAt),
    })),
  );
  let entriesPosted = 0;
  await mapLimit(plans, ctx.concurrency, async (h, i) => {
    const posted = await postHistory(h, !existed.has(i));
    entriesPosted += posted;
  });
  const consents = plans.filter((h) => h.consent);
  const consentDocs = consents.map((h) => {
    const c = h.consent!;
    return {
      _id: new Types.ObjectId(c.id),
      householdId: h.id,
      villageId: ctx.villageId,
      cooperativeId: ctx.cooperativeId,
      recipient: ctx.cooperativeName,
      purpose: DEFAULT_PURPOSE,
      fields: [...CONSENT_FIELDS],
      grantedAt: new Date(c.grantedAt),
      expiresAt: new Date(c.expiresAt),
      customerRef: c.customerRef,
      method: c.method,
      ...(c.formRef ? { formRef: c.formRef } : {}),
      recordedBy: RECORDED_BY,
    };
  });
  const consentsExisted = await insertMissing(Consent as never, consentDocs);
  // Inserted directly, not along a consent chain: their heads let the look-up find them by `_id`.
  await writeBaseHeads(consentDocs);
  return {
    householdsCreated: plans.length - existed.size,
    entriesPosted,
    consentsCreated: consents.length - consentsExisted.size,
    entries: plans.reduce((n, h) => n + h.entries.length, 0),
    consents: consents.length,
  };
}

/** Where a village's records go: the city's village and cooperative ids, and posting concurrency. */
interface CityIds {
  villageIds: Map<string, string>;
  cooperativeIds: string[];
  concurrency: number;
}

/**
 * One village into the report: counted from its marker when it was finished before, else
 * generated (or completed) and then marked finished.
 */
async function completeVillage(
  opts: GenerateOptions,
  city: CityPlan,
  v: VillagePlan,
  ids: CityIds,
  report: GenerateReport,
  deadline = Infinity,
): Promise<boolean> {
  const marker = await markers().findOne({ _id: markerId(opts.seed, v.code) });
  if (marker) {
    report.villagesDone++;
    report.entries += marker.entries;
    report.consents += marker.consents;
    return true;
  }
  // A village is begun only before the deadline (one written by an earlier run always counts).
  if (Date.now() >= deadline && report.villagesWritten > 0) return false;
  const county = city.counties[v.county]!;
  const r = await generateVillage(opts, v, {
    villageId: ids.villageIds.get(v.code)!,
    cooperativeId: ids.cooperativeIds[county.index]!,
    cooperativeName: county.cooperativeName,
    concurrency: ids.concurrency,
  });
  report.householdsCreated += r.householdsCreated;
  report.entriesPosted += r.entriesPosted;
  report.consentsCreated += r.consentsCreated;
  report.entries += r.entries;
  report.consents += r.consents;
  try {
    await markers().insertOne({
      _id: markerId(opts.seed, v.code),
      households: v.households,
      entries: r.entries,
      consents: r.consents,
      finishedAt: new Date(),
    });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  return true;
}

/** Generates (or completes) the city the options describe. */
export async function generateCity(
  opts: GenerateOptions,
  deps: GenerateDeps = {},
): Promise<GenerateReport> {
  installSimulatedClock();
  const t0 = Date.now();
  const concurrency = Math.max(1, deps.concurrency ?? GENERATE_CONCURRENCY_DEFAULT);
  const city = planCity(opts);
  const startMs = opts.until.getTime() - opts.years * 365 * 86_400_000;
  const { ids: villageIds, created: villagesCreated } = await ensureVillages(
    city,
    opts.seed,
    startMs,
  );
  const cooperativeIds = await ensureCooperatives(city, villageIds, startMs);
  const report: GenerateReport = {
    villages: city.villages.length,
    villagesCreated,
    villagesDone: 0,
    villagesWritten: 0,
    householdsWritten: 0,
    households: opts.households,
    householdsCreated: 0,
    entries: 0,
    entriesPosted: 0,
    consents: 0,
    consentsCreated: 0,
    elapsedMs: 0,
    villageIds,
    cooperativeIds,
  };
  let households = 0;
  for (const v of city.villages) {
    const ids = { villageIds, cooperativeIds, concurrency };
    if (!(await completeVillage(opts, city, v, ids, report, deps.deadline))) break;
    households += v.households;
    report.villagesWritten++;
    report.householdsWritten = households;
    deps.onProgress?.({
      households,
      householdsTotal: opts.households,
      entriesPosted: report.entriesPosted,
      elapsedMs: Date.now() - t0,
    });
  }
  report.elapsedMs = Date.now() - t0;
  if (report.householdsCreated > 0)
    report.msPer10kHouseholds = (report.elapsedMs * 10_000) / report.householdsCreated;
  return report;
}
