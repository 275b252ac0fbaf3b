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
import { clock } from '../../platform/clock';
import { DomainError, isDuplicateKeyError, notFound, validationError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import { codePointLength, cutText } from '../../platform/text';
import type { Metrics } from '../../platform/metrics';
import type { Principal } from '../../platform/principal';
import { findCooperative } from '../cooperatives/cooperatives.service';
import type { HouseholdDoc } from '../households/households.model';
import { findHousehold } from '../households/households.service';
import { recordInquiry } from '../inquiries/inquiries.service';
import { getAccount } from '../ledger/ledger.service';
import {
  householdEntries,
  neighbourLevel,
  SETTLE_MS,
  settledBefore,
  villageTotalsAt,
  type HouseholdEntries,
  type VillageTotals,
} from './credit.inputs';
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
import { validConsent } from './consents.service';

/** How old a cached current score may be: decay and the village level move with time. */
export const CACHE_AGE_MAX_MS = 3_600_000;
/** Longest purpose an officer may state. */
export const PURPOSE_LENGTH_MAX = 200;
/** Earliest asOf accepted (before any deployment; guards against typos such as 0202). */
const AS_OF_MIN = Date.parse('2000-01-01T00:00:00Z');

export interface CreditView {
  householdId: string;
  score: number;
  grade: string;
  reasons: Reason[];
  asOf: string;
  modelVersion: string;
}

export interface CreditSettings {
  gradeThresholds: GradeThresholds;
}

/**
 * What a calendar date means as an instant. A consent's expiry date is its start (00:00 UTC, as
 * before); an `asOf` date is the END of that day in China Standard Time (23:59:59.999 +08:00,
 * i.e. 15:59:59.999 UTC), the day as the village and the cooperative count it.
 */
export type DateMeaning = 'startUtc' | 'endOfDayChina';
/** China Standard Time (Asia/Shanghai) has been UTC+8 without daylight saving since 1991. */
const CHINA_OFFSET = '+08:00';

/** Parses a date (YYYY-MM-DD, see DateMeaning) or an ISO-8601 instant with a zone. */
export function parseInstant(raw: string, path: string, dateMeans: DateMeaning = 'startUtc'): Date {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(raw);
  const m = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.exec(raw);
  const dateMs = () =>
    Date.parse(
      dateMeans === 'startUtc' ? `${raw}T00:00:00Z` : `${raw}T23:59:59.999${CHINA_OFFSET}`,
    );
  const ms = dateOnly ? dateMs() : m ? Date.parse(raw) : NaN;
  const day = dateOnly ? raw : m?.[1];
  // Date.parse rolls 2026-02-30 over into March; a calendar date must read back the same.
  if (
    Number.isNaN(ms) ||
    !day ||
    Number.isNaN(Date.parse(`${day}T00:00:00Z`)) ||
    new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day
  ) {
    throw validationError([
      { path, message: 'must be a date (YYYY-MM-DD) or an ISO-8601 time with a zone' },
    ]);
  }
  return new Date(ms);
}

/**
 * Parses `asOf` (a date means the end of that day in China Standard Time); absent: the latest
 * settled instant. An asOf in the future is refused; one in the last SETTLE_MS (not settled yet:
 * an entry stamped just before it may not be visible yet) is waited for, at most SETTLE_MS, so
 * that `asOf=now` answers as of now instead of failing.
 */
export async function parseAsOf(raw: string | undefined, path = 'asOf'): Promise<Date> {
  if (raw === undefined) return settledBefore();
  const at = parseInstant(raw, path, 'endOfDayChina');
  if (at.getTime() < AS_OF_MIN)
    throw validationError([{ path, message: 'must be 2000-01-01 or later' }]);
  if (at.getTime() > Date.now()) {
    throw validationError([
      {
        path,
        message: 'must not lie in the future (a date means the end of that day, Beijing time)',
      },
    ]);
  }
  const waitMs = at.getTime() - settledBefore().getTime();
  if (waitMs > 0) await sleep(Math.min(waitMs, SETTLE_MS));
  return at;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  household: HouseholdDoc,
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

/** Writes the cache forward only; a slower writer with an older asOf does not move it back. */
async function writeCache(view: CreditView, throughSeq: number): Promise<void> {
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
  try {
    await ScoreCache.updateOne(
      { _id: view.householdId, asOf: { $lte: asOf } },
      { $set: doc },
      { upsert: true },
    );
  } catch (err) {
    // The upsert met a newer cached score for this household: leave it.
    if (!isDuplicateKeyError(err)) throw err;
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
  await writeCache(view, throughSeq);
  return view;
}

export interface LookupQuery {
  asOf?: string;
  purpose?: string;
  modelVersion?: string;
}

export interface HistoryView {
  householdId: string;
  modelVersion: string;
  /** Oldest first: one point per month end (the last one: now), each as the look-up would answer then. */
  points: { month: string; asOf: string; score: number; grade: string }[];
}

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

  const answer = async (household: HouseholdDoc, q: LookupQuery): Promise<CreditView> => {
    const model = parseModelVersion(q.modelVersion);
    if (q.asOf === undefined && model === CURRENT_MODEL)
      return currentScore(household, deps.settings);
    return (await scoreAsOf(household, await parseAsOf(q.asOf, 'query.asOf'), model, deps.settings))
      .view;
  };

  /**
   * An officer's disclosure of one household (a look-up or a trend): purpose, rate limit, area
   * and consent checked, and recorded as an inquiry whatever the outcome (no record, no answer).
   */
  async function officerDisclosure<T>(
    p: Principal,
    household: HouseholdDoc,
    purposeRaw: string | undefined,
    label: string,
    log: Logger,
    compute: () => Promise<T>,
  ): Promise<T> {
    const householdId = household._id.toHexString();
    const purpose = (purposeRaw ?? '').trim();
    const record = async (result: string) => {
      deps.metrics.creditLookups.inc({ result });
      const stated = purpose ? cutText(purpose, PURPOSE_LENGTH_MAX) : '（未说明）';
      await recordInquiry({
        householdId,
        officerId: p.id,
        cooperativeId: p.cooperativeId ?? '',
        purpose: label ? `${stated}${label}` : stated,
        result,
        at: clock.now(),
      });
    };
    let view: T;
    try {
      await limits.consume(p.id);
      if (!purpose)
        throw validationError([
          { path: 'query.purpose', message: 'an officer states the purpose of every look-up' },
        ]);
      if (codePointLength(purpose) > PURPOSE_LENGTH_MAX)
        throw validationError([
          {
            path: 'query.purpose',
            message: `at most ${PURPOSE_LENGTH_MAX} characters (Unicode code points)`,
          },
        ]);
      const cooperative = p.cooperativeId ? await findCooperative(p.cooperativeId) : undefined;
      if (!cooperative || !cooperative.villageIds.includes(household.villageId))
        throw notFound('household');
      if (!(await validConsent(householdId, cooperative._id.toHexString(), clock.now()))) {
        throw new DomainError(
          'consent_required',
          'This household has not given your cooperative a valid consent to look up its credit reference.',
        );
      }
      // Validate and compute before recording `ok`; a refused query is recorded as refused.
      view = await compute();
      await record('ok');
    } catch (err) {
      // A refused or failed call is still a call on this household. If even the record cannot
      // be written, the original error is what the caller gets.
      await record(err instanceof DomainError ? err.code : 'internal_error').catch(
        (recordErr: unknown) =>
          log.error({ err: recordErr }, 'could not record a refused credit inquiry'),
      );
      throw err;
    }
    // The daily watch is monitoring: if Redis fails here the answer, already recorded, still goes out.
    await limits
      .noteHousehold({ id: p.id, cooperativeId: p.cooperativeId ?? '' }, householdId, log)
      .catch((err: unknown) =>
        log.error({ err }, 'could not count the look-up for the daily watch'),
      );
    return view;
  }

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
      return officerDisclosure(p, household, q.purpose, '', log, () => answer(household, q));
    },
    async history(p, householdId, q, log) {
      const household = await subject(p, householdId);
      const months = q.months ?? HISTORY_MONTHS_DEFAULT;
      const compute = () => scoreHistory(household, months, deps.settings);
      if (p.role === 'household') return compute();
      return officerDisclosure(p, household, q.purpose, `（含${months}个月趋势）`, log, compute);
    },
  };
}
