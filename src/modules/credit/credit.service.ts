/**
 * The credit look-up: a household's score as of an instant, for a loan officer with the
 * household's consent, or for the household itself.
 *
 * Invariants:
 * - The same asOf and modelVersion always give the same answer: inputs are entries posted at or
 *   before asOf and a village level taken before asOf, and asOf is never used before it is
 *   settled (`settledBefore()`: entries stamped earlier are all visible; a recent asOf is waited
 *   for). Without asOf, the answer is as of a recent settled instant, echoed in `asOf`. A date
 *   asOf is the end of that day in China Standard Time.
 * - An officer reads only households of their cooperative's service area (404 otherwise, as if
 *   absent) with a consent to their cooperative valid now, when the disclosure happens (403
 *   consent_required otherwise); such a consent covers the household's score at any asOf.
 * - Every officer call on an existing household is recorded as an inquiry before any answer
 *   leaves, refused calls included; no record, no answer. The household's own reads are not
 *   inquiries and need no consent.
 * - The current-score cache (`credit_scores`) is served only while it covers the whole chain;
 *   it always equals the recomputation as of its asOf.
 */
import type { Redis } from 'ioredis';
import { isDuplicateKeyError, notFound, validationError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { Metrics } from '../../platform/metrics';
import type { Principal } from '../../platform/principal';
import type { HouseholdDoc } from '../households/households.model';
import { findHousehold } from '../households/households.service';
import { getAccount } from '../ledger/ledger.service';
import {
  householdEntries,
  neighbourLevel,
  settledBefore,
  villageTotalsAt,
  type HouseholdEntries,
  type VillageTotals,
} from './credit.inputs';
import type { z } from '../../platform/validation';
import type { creditSchema, historySchema } from './credit.schemas';
import { createLookupLimits, type LookupLimits } from './credit.limits';
import { ScoreCache, type ScoreCacheDoc } from './credit.model';
import {
  computeScore,
  CURRENT_MODEL,
  gradeOf,
  MODELS,
  type GradeThresholds,
  type ModelWeights,
  type Reason,
} from './credit.score';
import { discloseToOfficer } from './credit.disclosure';
import { parseAsOf } from './credit.instants';

/** How old a cached current score may be: decay and the village level move with time. */
export const CACHE_AGE_MAX_MS = 3_600_000;

/** A look-up's answer: the shape GET /v1/credit/households/:id declares. */
export type CreditView = z.infer<typeof creditSchema>;

export interface CreditSettings {
  gradeThresholds: GradeThresholds;
}

export function parseModelVersion(raw: string | undefined): ModelWeights {
  if (raw === undefined) return CURRENT_MODEL;
  const m = MODELS[raw];
  if (!m)
    throw validationError([
      {
        path: 'query.modelVersion',
        message: `unknown model; known: ${Object.keys(MODELS).join(', ')}`,
      },
    ]);
  return m;
}

/** Scores a household as of asOf from its chain (no access checks, no cache). */
export async function scoreAsOf(
  household: Pick<HouseholdDoc, '_id' | 'villageId' | 'createdAt'>,
  asOf: Date,
  model: ModelWeights,
  settings: CreditSettings,
  pre: { own?: HouseholdEntries; villageTotals?: VillageTotals } = {},
): Promise<{ view: CreditView; throughSeq: number }> {
  const householdId = household._id.toHexString();
  const mine = pre.own ?? (await householdEntries(householdId, asOf));
  const totals = pre.villageTotals ?? (await villageTotalsAt(model, household.villageId, asOf));
  const village = neighbourLevel(model, totals, household, mine.entries);
  const r = computeScore({ asOf, entries: mine.entries, village }, model, settings.gradeThresholds);
  return {
    view: {
      householdId,
      score: r.score,
      grade: r.grade,
      reasons: r.reasons,
      asOf: asOf.toISOString(),
      modelVersion: r.modelVersion,
    },
    throughSeq: mine.throughSeq,
  };
}

function fromCache(c: ScoreCacheDoc, settings: CreditSettings): CreditView {
  return {
    householdId: c._id,
    score: c.score,
    // Grades follow the configured thresholds even for a score cached before they changed.
    grade: gradeOf(c.score, settings.gradeThresholds),
    reasons: c.reasons.map((r) => ({
      code: r.code as Reason['code'],
      text: r.text,
      impact: r.impact,
    })),
    asOf: c.asOf.toISOString(),
    modelVersion: c.modelVersion,
  };
}

/**
 * Writes the cache forward: a cached score with a later asOf is left alone. Only lone `_id`
 * filters (FerretDB's SQLite backend scanned the whole collection for `{_id, asOf: {$lte}}`):
 * the cached document is read (or passed in, as the look-up just read it), compared, then
 * replaced by `_id`. Two writers racing between the read and the write may leave the older of
 * two fresh answers; that is harmless, since every cached score equals the recomputation as of
 * its own asOf and is served only while it covers the whole chain.
 */
async function writeCache(
  view: CreditView,
  throughSeq: number,
  known?: ScoreCacheDoc | null,
): Promise<void> {
  const asOf = new Date(view.asOf);
  const doc = {
    modelVersion: view.modelVersion,
    asOf,
    throughSeq,
    score: view.score,
    grade: view.grade,
    reasons: view.reasons,
    computedAt: new Date(),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    const current =
      attempt === 0 && known !== undefined
        ? known
        : await ScoreCache.findById(view.householdId).lean<ScoreCacheDoc>();
    if (current && current.asOf.getTime() > asOf.getTime()) return;
    if (current) {
      await ScoreCache.updateOne({ _id: view.householdId }, { $set: doc });
      return;
    }
    try {
      await ScoreCache.create([{ _id: view.householdId, ...doc }]);
      return;
    } catch (err) {
      // Another writer created it first: compare with theirs.
      if (!isDuplicateKeyError(err)) throw err;
    }
  }
}

/** Recomputes the current score and caches it (the scoring worker's step). */
export async function refreshCachedScore(
  householdId: string,
  settings: CreditSettings,
): Promise<CreditView | undefined> {
  const household = await findHousehold(householdId);
  if (!household) return undefined;
  const { view, throughSeq } = await scoreAsOf(household, settledBefore(), CURRENT_MODEL, settings);
  await writeCache(view, throughSeq);
  return view;
}

/** The current score: the cache when it covers the whole chain and is recent, else a recomputation. */
export async function currentScore(
  household: HouseholdDoc,
  settings: CreditSettings,
): Promise<CreditView> {
  const householdId = household._id.toHexString();
  const [cached, account] = await Promise.all([
    ScoreCache.findById(householdId).lean<ScoreCacheDoc>(),
    getAccount(householdId),
  ]);
  if (
    cached &&
    cached.modelVersion === CURRENT_MODEL.version &&
    cached.throughSeq === account.entryCount &&
    Date.now() - cached.asOf.getTime() <= CACHE_AGE_MAX_MS
  ) {
    return fromCache(cached, settings);
  }
  const { view, throughSeq } = await scoreAsOf(household, settledBefore(), CURRENT_MODEL, settings);
  await writeCache(view, throughSeq, cached);
  return view;
}

export interface LookupQuery {
  asOf?: string;
  purpose?: string;
  modelVersion?: string;
}

/**
 * A trend: oldest first, one point per month end (the last one: now), each as the look-up would
 * answer then.
 */
export type HistoryView = z.infer<typeof historySchema>;

/** Months of a trend by default (the officer page's chart), and at most. */
export const HISTORY_MONTHS_DEFAULT = 24;
export const HISTORY_MONTHS_MAX = 36;

/** End of a month in China Standard Time (the last instant of its last day), as an instant. */
function monthEndCst(year: number, month0: number): Date {
  return new Date(Date.UTC(year, month0 + 1, 1) - 8 * 3_600_000 - 1);
}

/**
 * Scores as of each of the last `months` month ends (CST), the current month's point being now:
 * the pure score function over the same inputs a look-up as of that instant reads, so each point
 * equals `GET /v1/credit/households/:id?asOf=…` for its asOf. The chain is read once; village
 * levels are memoised per month (credit.inputs.ts), so a second trend of the village is cheap.
 */
export async function scoreHistory(
  household: HouseholdDoc,
  months: number,
  settings: CreditSettings,
): Promise<HistoryView> {
  const now = settledBefore();
  const own = await householdEntries(household._id.toHexString(), now);
  const cst = new Date(now.getTime() + 8 * 3_600_000);
  const points: HistoryView['points'] = [];
  for (let back = months - 1; back >= 0; back--) {
    const y = cst.getUTCFullYear();
    const m0 = cst.getUTCMonth() - back;
    const asOf = back === 0 ? now : monthEndCst(y, m0);
    const month = new Date(Date.UTC(y, m0, 1)).toISOString().slice(0, 7);
    const upTo = own.entries.filter((e) => new Date(e.createdAt).getTime() <= asOf.getTime());
    const { view } = await scoreAsOf(household, asOf, CURRENT_MODEL, settings, {
      own: { entries: upTo, throughSeq: 0 },
    });
    points.push({ month, asOf: view.asOf, score: view.score, grade: view.grade });
  }
  return { householdId: household._id.toHexString(), modelVersion: CURRENT_MODEL.version, points };
}

export interface CreditService {
  lookUp(p: Principal, householdId: string, q: LookupQuery, log: Logger): Promise<CreditView>;
  history(
    p: Principal,
    householdId: string,
    q: { purpose?: string; months?: number },
    log: Logger,
  ): Promise<HistoryView>;
  limits: LookupLimits;
}

export function createCreditService(deps: {
  redis: Redis;
  redisPrefix: string;
  metrics: Metrics;
  settings: CreditSettings & { lookupsPerMinute: number; lookupsPerDayAlert: number };
}): CreditService {
  const limits = createLookupLimits({
    redis: deps.redis,
    redisPrefix: deps.redisPrefix,
    perMinute: deps.settings.lookupsPerMinute,
    perDayAlert: deps.settings.lookupsPerDayAlert,
    metrics: deps.metrics,
  });
  const disclosure = { limits, metrics: deps.metrics };

  const answer = async (household: HouseholdDoc, q: LookupQuery): Promise<CreditView> => {
    const model = parseModelVersion(q.modelVersion);
    if (q.asOf === undefined && model === CURRENT_MODEL)
      return currentScore(household, deps.settings);
    return (await scoreAsOf(household, await parseAsOf(q.asOf, 'query.asOf'), model, deps.settings))
      .view;
  };

  /** The household itself, or an officer's household within reach (else 404). */
  async function subject(p: Principal, householdId: string): Promise<HouseholdDoc> {
    if (p.role === 'household' && p.householdId !== householdId) throw notFound('household');
    const household = await findHousehold(householdId);
    if (!household) {
      if (p.role === 'officer') deps.metrics.creditLookups.inc({ result: 'not_found' });
      throw notFound('household');
    }
    return household;
  }

  return {
    limits,
    async lookUp(p, householdId, q, log) {
      const household = await subject(p, householdId);
      if (p.role === 'household') return answer(household, q);
      return discloseToOfficer(
        disclosure,
        p,
        household,
        { purpose: q.purpose, label: '' },
        log,
        () => answer(household, q),
      );
    },
    async history(p, householdId, q, log) {
      const household = await subject(p, householdId);
      const months = q.months ?? HISTORY_MONTHS_DEFAULT;
      const compute = () => scoreHistory(household, months, deps.settings);
      if (p.role === 'household') return compute();
      const label = `（含${months}个月趋势）`;
      return discloseToOfficer(
        disclosure,
        p,
        household,
        { purpose: q.purpose, label },
        log,
        compute,
      );
    },
  };
}
