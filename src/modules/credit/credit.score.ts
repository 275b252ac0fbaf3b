/**
 * Credit reference score, model v1 (docs/scoring.md is its model card). A pure function: no
 * database, no clock. Given a household's own ledger entries, the instant `asOf` and its
 * village's award level as of `asOf`, it returns the same answer every time.
 *
 * Invariants (tested in test/modules/credit/score.test.ts, by table and by property):
 * - Only entries posted at or before `asOf` count; only the merit side counts (redemptions and
 *   expiries, i.e. spending, are ignored whatever they carry).
 * - Monotone by construction: every factor is a non-decreasing function of the household's
 *   remaining award amounts and a non-increasing one of its remaining deduction amounts, rounding
 *   is monotone, and the village level is computed without the household itself. So one more
 *   award never lowers the score and one more deduction never raises it.
 * - score = BASE + the sum of the five rounded factor impacts; the caps make it lie in 0–1000
 *   without clamping (asserted).
 * - A model version is frozen: its weights never change; a change is a new entry in MODELS.
 */
import assert from 'node:assert/strict';

const DAY_MS = 86_400_000;

/** The merit side of one ledger entry. */
export interface ScoreEntry {
  type: 'award' | 'deduction' | 'redemption' | 'reversal' | 'adjustment' | 'expiry';
  /** Signed change of merit ("what was earned"); spending changes spendable only. */
  meritDelta: number;
  /** When the entry was posted (ms since epoch or a Date). */
  createdAt: number | Date;
  ruleCode?: string;
}

/** The other households of the village, as of the start of asOf's month (see villageLevelAt). */
export interface VillageLevel {
  /** Households registered by then, not counting this one. */
  otherHouseholds: number;
  /** Their award points posted in the model's village window before then. */
  otherAwardPoints: number;
}

export interface ScoreInput {
  asOf: Date;
  entries: readonly ScoreEntry[];
  village: VillageLevel;
}

export const FACTOR_CODES = [
  'MERIT_RECENT',
  'STEADY_PARTICIPATION',
  'HONOURS',
  'DEDUCTIONS',
  'CLEAN_RECORD',
] as const;
export type FactorCode = (typeof FACTOR_CODES)[number] | 'NO_HISTORY';

export interface Reason {
  code: FactorCode;
  text: string;
  /** Signed points this factor moved the score from the base. */
  impact: number;
}

export const GRADES = ['优秀', '良好', '中等', '一般', '较差'] as const;
export type Grade = (typeof GRADES)[number];
/** Lowest scores of 优秀, 良好, 中等, 一般 (below the last: 较差). */
export type GradeThresholds = readonly [number, number, number, number];
export const DEFAULT_GRADE_THRESHOLDS: GradeThresholds = [800, 650, 500, 350];

export interface ScoreResult {
  score: number;
  grade: Grade;
  reasons: Reason[];
  modelVersion: string;
}

/** The frozen weights of one model version. */
export interface ModelWeights {
  version: string;
  /** Score of a household with nothing on record. */
  base: number;
  merit: { cap: number; scale: number; halfLifeDays: number };
  steady: { cap: number; scale: number; months: number; monthDays: number };
  honours: {
    cap: number;
    scale: number;
    halfLifeDays: number;
    ruleCodes: readonly string[];
    ruleCodePrefixes: readonly string[];
  };
  deductions: { cap: number; scale: number; halfLifeDays: number; horizonDays: number };
  clean: { bonus: number; windowDays: number };
  village: {
    windowDays: number;
    referencePointsPerHousehold: number;
    factorMin: number;
    factorMax: number;
  };
}

/**
 * Model v1. Positive caps sum to 500 and the deduction cap is 500, so with base 500 the score
 * lies in 0–1000 by construction. Honour codes are those of the county catalogue (and the
 * `honour-` prefix a county may use for new ones); they are part of the version because
 * changing them would change old answers.
 */
export const MODEL_V1: ModelWeights = Object.freeze({
  version: 'msl-credit-v1',
  base: 500,
  merit: { cap: 250, scale: 150, halfLifeDays: 365 },
  steady: { cap: 130, scale: 6, months: 24, monthDays: 30.4375 },
  honours: {
    cap: 80,
    scale: 1,
    halfLifeDays: 1095,
    ruleCodes: [
      'best-family',
      'star-household',
      'moral-model',
      'good-person',
      'civilised-family',
      'heroic-deed',
    ],
    ruleCodePrefixes: ['honour-', 'honor-'],
  },
  deductions: { cap: 500, scale: 60, halfLifeDays: 730, horizonDays: 1825 },
  clean: { bonus: 40, windowDays: 730 },
  village: { windowDays: 365, referencePointsPerHousehold: 60, factorMin: 0.5, factorMax: 2 },
});

/** Every version this service can compute; old versions stay so old answers stay reproducible. */
export const MODELS: Readonly<Record<string, ModelWeights>> = Object.freeze({
  [MODEL_V1.version]: MODEL_V1,
});
export const CURRENT_MODEL = MODEL_V1;

/** Amounts whose factors count them: what remains after reversals cancelled part of them. */
interface Remaining {
  at: number;
  amount: number;
  award: boolean;
  honour: boolean;
}

const isHonour = (m: ModelWeights, code: string | undefined) =>
  code !== undefined &&
  (m.honours.ruleCodes.includes(code) ||
    m.honours.ruleCodePrefixes.some((p) => code.startsWith(p)));

/**
 * Splits entries into positive and negative merit events and applies reversals: a reversal that
 * gives merit back cancels deductions, newest first, among those posted before it; one that takes
 * merit away cancels awards the same way. Cancelling newest-first keeps the monotone property:
 * an extra award can only leave every earlier award with as much or more remaining.
 */
function meritEvents(m: ModelWeights, asOfMs: number, entries: readonly ScoreEntry[]) {
  const sorted = entries
    .map((e, i) => ({
      e,
      i,
      at: typeof e.createdAt === 'number' ? e.createdAt : e.createdAt.getTime(),
    }))
    .filter((x) => x.at <= asOfMs && Number.isFinite(x.at))
    .sort((a, b) => a.at - b.at || a.i - b.i);
  const positives: Remaining[] = [];
  const negatives: Remaining[] = [];
  const cancel = (pool: Remaining[], amount: number) => {
    for (let k = pool.length - 1; k >= 0 && amount > 0; k--) {
      const take = Math.min(pool[k]!.amount, amount);
      pool[k]!.amount -= take;
      amount -= take;
    }
  };
  for (const { e, at } of sorted) {
    const d = e.meritDelta;
    if (d === 0 || e.type === 'redemption' || e.type === 'expiry') continue; // spending never counts
    if (e.type === 'reversal') {
      cancel(d > 0 ? negatives : positives, Math.abs(d));
    } else if (d > 0) {
      const award = e.type === 'award';
      positives.push({ at, amount: d, award, honour: award && isHonour(m, e.ruleCode) });
    } else {
      negatives.push({ at, amount: -d, award: false, honour: false });
    }
  }
  return {
    positives: positives.filter((p) => p.amount > 0),
    negatives: negatives.filter((n) => n.amount > 0),
  };
}

/** Age in days at asOf of an instant (ms). */
type Age = (at: number) => number;

const decay = (ageDays: number, halfLifeDays: number) => Math.pow(2, -ageDays / halfLifeDays);
const saturate = (cap: number, x: number, scale: number) => cap * (1 - Math.exp(-x / scale));

/** The multiplier that puts a village's award level on the county reference (1 without neighbours). */
export function villageFactor(m: ModelWeights, v: VillageLevel): number {
  if (v.otherHouseholds <= 0) return 1;
  const level = v.otherAwardPoints / v.otherHouseholds;
  if (level <= 0) return m.village.factorMax;
  return Math.min(
    m.village.factorMax,
    Math.max(m.village.factorMin, m.village.referencePointsPerHousehold / level),
  );
}

export function gradeOf(
  score: number,
  thresholds: GradeThresholds = DEFAULT_GRADE_THRESHOLDS,
): Grade {
  for (let i = 0; i < thresholds.length; i++) if (score >= thresholds[i]!) return GRADES[i]!;
  return GRADES[4];
}

/** What the five factors came to, and the counts their reasons quote. */
interface Factors {
  merit: number;
  meritPoints: number;
  /** Village factor applied to merit (1: none). */
  factor: number;
  steady: number;
  awardMonths: number;
  honours: number;
  honourCount: number;
  deductions: number;
  negCount: number;
  negPoints: number;
  clean: number;
}

/** Merit, weighted by recency and put on the county's reference level for the village. */
function meritFactor(m: ModelWeights, input: ScoreInput, positives: Remaining[], ageDays: Age) {
  const factor = villageFactor(m, input.village);
  let weighted = 0;
  let meritPoints = 0;
  for (const p of positives) {
    weighted += p.amount * decay(ageDays(p.at), m.merit.halfLifeDays);
    meritPoints += p.amount;
  }
  const merit = Math.round(saturate(m.merit.cap, weighted * factor, m.merit.scale));
  return { merit, meritPoints, factor };
}

/** Steady participation: distinct months (counted back from asOf) with an award. */
function steadyFactor(m: ModelWeights, positives: Remaining[], ageDays: Age) {
  const months = new Set<number>();
  for (const p of positives) {
    if (!p.award) continue;
    const k = Math.floor(ageDays(p.at) / m.steady.monthDays);
    if (k < m.steady.months) months.add(k);
  }
  const steady = Math.round(saturate(m.steady.cap, months.size, m.steady.scale));
  return { steady, awardMonths: months.size };
}

/** Honours, fading slowly. */
function honoursFactor(m: ModelWeights, positives: Remaining[], ageDays: Age) {
  let honourWeight = 0;
  let honourCount = 0;
  for (const p of positives) {
    if (!p.honour) continue;
    honourWeight += decay(ageDays(p.at), m.honours.halfLifeDays);
    honourCount++;
  }
  const honours = Math.round(saturate(m.honours.cap, honourWeight, m.honours.scale));
  return { honours, honourCount };
}

/**
 * Deductions weigh more, fade slower, and stop counting at the horizon; the clean-record bonus
 * needs awards and no deduction inside its window.
 */
function deductionFactors(
  m: ModelWeights,
  positives: Remaining[],
  negatives: Remaining[],
  ageDays: Age,
) {
  let negWeight = 0;
  let negCount = 0;
  let negPoints = 0;
  let recentNegative = false;
  for (const n of negatives) {
    const age = ageDays(n.at);
    if (age >= m.deductions.horizonDays) continue;
    negWeight += n.amount * decay(age, m.deductions.halfLifeDays);
    negCount++;
    negPoints += n.amount;
    if (age < m.clean.windowDays) recentNegative = true;
  }
  const deductions = -Math.round(saturate(m.deductions.cap, negWeight, m.deductions.scale));
  const clean = !recentNegative && positives.length > 0 ? m.clean.bonus : 0;
  return { deductions, negCount, negPoints, clean };
}

/** The four reasons that moved the score most, in words a household can follow. */
function reasonsOf(m: ModelWeights, f: Factors): Reason[] {
  const factorText = f.factor === 1 ? '' : `，已按本村评分水平校准（系数${f.factor.toFixed(2)}）`;
  const all: Reason[] = [
    {
      code: 'MERIT_RECENT',
      impact: f.merit,
      text: `累计获得善行积分${f.meritPoints}分，按一年半衰期折算近期贡献${factorText}`,
    },
    {
      code: 'STEADY_PARTICIPATION',
      impact: f.steady,
      text: `近${m.steady.months}个月中有${f.awardMonths}个月获得积分（持续参与比一次集中获得更受重视）`,
    },
    {
      code: 'HONOURS',
      impact: f.honours,
      text: `获得荣誉称号${f.honourCount}项（如最美家庭、星级文明户）`,
    },
    {
      code: 'DEDUCTIONS',
      impact: f.deductions,
      text: `近五年内有扣分记录${f.negCount}次，共${f.negPoints}分（扣分影响随时间减弱，满五年不再计入）`,
    },
    { code: 'CLEAN_RECORD', impact: f.clean, text: '近两年无扣分记录' },
  ];
  // Ties are broken by the fixed factor order, so the list is stable.
  const reasons = all
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.impact !== 0)
    .sort((a, b) => Math.abs(b.r.impact) - Math.abs(a.r.impact) || a.i - b.i)
    .slice(0, 4)
    .map(({ r }) => r);
  if (reasons.length === 0)
    reasons.push({ code: 'NO_HISTORY', impact: 0, text: '暂无计入的积分记录，按基准分计算' });
  return reasons;
}

/** Computes the score, grade and the four reasons that moved it most. */
export function computeScore(
  input: ScoreInput,
  m: ModelWeights = CURRENT_MODEL,
  thresholds: GradeThresholds = DEFAULT_GRADE_THRESHOLDS,
): ScoreResult {
  const asOfMs = input.asOf.getTime();
  const { positives, negatives } = meritEvents(m, asOfMs, input.entries);
  const ageDays: Age = (at) => (asOfMs - at) / DAY_MS;
  const f: Factors = {
    ...meritFactor(m, input, positives, ageDays),
    ...steadyFactor(m, positives, ageDays),
    ...honoursFactor(m, positives, ageDays),
    ...deductionFactors(m, positives, negatives, ageDays),
  };
  const score = m.base + f.merit + f.steady + f.honours + f.deductions + f.clean;
  assert.ok(Number.isInteger(score) && score >= 0 && score <= 1000, `score ${score} out of range`);
  return {
    score,
    grade: gradeOf(score, thresholds),
    reasons: reasonsOf(m, f),
    modelVersion: m.version,
  };
}

/** Start of the UTC month of an instant: the date the village level is taken at. */
export function villageLevelAt(asOf: Date): Date {
  return new Date(Date.UTC(asOf.getUTCFullYear(), asOf.getUTCMonth(), 1));
}

/**
 * This household's own award points inside the village window: subtracted from the village's
 * total so that the household's level is its neighbours' (which keeps the score monotone).
 * Must count exactly what the village total counts: award entries, raw merit, posted in (from, to].
 */
export function ownWindowAwardPoints(
  m: ModelWeights,
  levelAt: Date,
  entries: readonly ScoreEntry[],
): number {
  const { from, to } = villageWindow(m, levelAt);
  let sum = 0;
  for (const e of entries) {
    const at = typeof e.createdAt === 'number' ? e.createdAt : e.createdAt.getTime();
    if (e.type === 'award' && at > from.getTime() && at <= to.getTime()) sum += e.meritDelta;
  }
  return sum;
}

/** The window (from, to] of award entries that make a village's level at `levelAt`. */
export function villageWindow(m: ModelWeights, levelAt: Date): { from: Date; to: Date } {
  return { from: new Date(levelAt.getTime() - m.village.windowDays * DAY_MS), to: levelAt };
}
