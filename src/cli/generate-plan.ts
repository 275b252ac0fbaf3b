/**
 * The plan of a generated county or city: villages, townships and counties, households with
 * Chinese names and cards, and each household's history of entries over K years. Pure: no
 * database, no clock, no Math.random, so the same options always give the same plan.
 *
 * Invariants:
 * - Every household is planned from its own seed (the run's seed, its village and its index),
 *   so a household's plan does not depend on which others were generated before it: a resumed
 *   run, or one that generates villages in parallel, posts exactly the same entries.
 * - Household ids, card numbers and ledger source ids are derived from the seed, so a re-run
 *   with the same seed finds what it wrote and adds nothing.
 * - A household's entries are in time order, each at a distinct millisecond, between its
 *   registration and `until`; a redemption is planned only when the points are there (a
 *   deduction's shortfall is clamped exactly as the ledger clamps it), so every planned posting
 *   succeeds.
 * - The entry counts and amounts depend on the seed only; `until` shifts the timestamps.
 */
import { createHash } from 'node:crypto';
import { between, createRng, generateHouseholds, pick, type Rng } from '../modules/demo/demo.names';
import { DEDUCTIONS, GOODS, pickAward } from './generate-catalogue';

/** Villages per township (a township station has 10–20 village stations). */
export const VILLAGES_PER_TOWNSHIP = 12;
/** Villages per county (one county is about 200 villages, DOMAIN.md). */
export const VILLAGES_PER_COUNTY = 200;
const DAY_MS = 86_400_000;
const YEAR_MS = 365 * DAY_MS;
/** Consents are given for three years (within the five the service allows). */
const CONSENT_MS = 3 * YEAR_MS;
/** Share of households that consented to their county cooperative. */
const CONSENT_SHARE = 0.6;

export interface GenerateOptions {
  villages: number;
  households: number;
  years: number;
  seed: number;
  /** The history ends before this instant (default: today 00:00 UTC). */
  until: Date;
}

export interface CountyPlan {
  index: number;
  name: string;
  cooperativeName: string;
  /** Village indexes [from, to). */
  villages: [number, number];
}

export interface VillagePlan {
  index: number;
  code: string;
  name: string;
  township: string;
  county: number;
  /** Number of households in this village. */
  households: number;
}

export interface CityPlan {
  counties: CountyPlan[];
  villages: VillagePlan[];
}

export type PlannedType = 'award' | 'deduction' | 'redemption';

export interface PlannedEntry {
  at: number;
  type: PlannedType;
  /** Signed points as the household sees them. */
  points: number;
  spendableDelta: number;
  meritDelta: number;
  ruleCode?: string;
  reason: string;
  /** Ledger source id (type `generate`); unique per seed, village, household and entry. */
  sourceId: string;
}

export interface PlannedConsent {
  id: string;
  grantedAt: number;
  expiresAt: number;
  method: 'household' | 'paper_form';
  formRef?: string;
  customerRef: string;
}

export interface HouseholdPlan {
  id: string;
  cardNo: string;
  head: string;
  members: string[];
  registeredAt: number;
  entries: PlannedEntry[];
  consent?: PlannedConsent;
}

/** The ledger source type of every generated posting. */
export const GENERATE_SOURCE_TYPE = 'generate';

/** A 32-bit seed from any parts (SHA-256, so neighbouring households get unrelated streams). */
function subSeed(...parts: (string | number)[]): number {
  return createHash('sha256').update(parts.join(':')).digest().readUInt32LE(0);
}

const COUNTY_A = Array.from('永安庆宁丰泰临天清景金平昌和兴乐');
const COUNTY_B = Array.from('昌丰宁和川源山平祥康阳靖');
const TOWN_A = Array.from('东西南北上下大小新古石柳杨马黄白红青');
const TOWN_B = ['河', '川', '坪', '滩', '岭', '营', '堡', '湾', '沟', '峪', '台', '寨'];
const VILLAGE_A = [
  ...Array.from('东西南北上下前后大小新老红白青黄石柳杨桃杏'),
  '王家',
  '李家',
  '张家',
  '马家',
  '刘家',
  '赵家',
  '陈家',
  '何家',
];
const VILLAGE_B = [
  '庄',
  '河',
  '沟',
  '湾',
  '坪',
  '台',
  '山',
  '岭',
  '川',
  '滩',
  '堡',
  '寨',
  '坡',
  '峪',
  '洼',
  '营',
  '渠',
  '塬',
  '岔',
  '屯',
];

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Counties, townships and villages, and how many households each village has. */
export function planCity(opts: GenerateOptions): CityPlan {
  const rng = createRng(subSeed(opts.seed, 'city'));
  const counties: CountyPlan[] = [];
  for (let c = 0; c * VILLAGES_PER_COUNTY < opts.villages; c++) {
    const name = `${pick(rng, COUNTY_A)}${pick(rng, COUNTY_B)}县`;
    counties.push({
      index: c,
      name,
      cooperativeName: `${name}农村商业银行`,
      villages: [c * VILLAGES_PER_COUNTY, Math.min(opts.villages, (c + 1) * VILLAGES_PER_COUNTY)],
    });
  }
  // Villages differ in size (150 to 800 households in the reports): weights 0.4–1.6.
  const weights = Array.from({ length: opts.villages }, () => 0.4 + 1.2 * rng());
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.floor((opts.households * w) / total));
  let rest = opts.households - sizes.reduce((a, b) => a + b, 0);
  for (let v = 0; rest > 0; v = (v + 1) % sizes.length, rest--) sizes[v]!++;
  const villages: VillagePlan[] = [];
  let township = '';
  for (let v = 0; v < opts.villages; v++) {
    if (v % VILLAGES_PER_TOWNSHIP === 0)
      township = `${pick(rng, TOWN_A)}${pick(rng, TOWN_B)}${rng() < 0.6 ? '镇' : '乡'}`;
    villages.push({
      index: v,
      code: `G${opts.seed}-${pad(v + 1, 5)}`,
      name: `${pick(rng, VILLAGE_A)}${pick(rng, VILLAGE_B)}村`,
      township,
      county: Math.floor(v / VILLAGES_PER_COUNTY),
      households: sizes[v]!,
    });
  }
  return { counties, villages };
}

/** A deterministic ObjectId: 4 bytes of seconds (registration time), 8 bytes of the seed hash. */
function objectIdAt(atMs: number, ...parts: (string | number)[]): string {
  const seconds = Math.floor(atMs / 1000)
    .toString(16)
    .padStart(8, '0');
  return seconds + createHash('sha256').update(parts.join(':')).digest('hex').slice(0, 16);
}

/** Number of events of a Poisson process with `mean` (Knuth; means here are small). */
function poisson(rng: Rng, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = rng(); p > limit; p *= rng()) k++;
  return k;
}

/**
 * What a household does over its time, unordered: a fifth are very active (about 10 awards a
 * year), two fifths somewhat (5), the rest seldom (2); about one household in twelve is deducted
 * each year; the supermarket is visited about three times a year.
 */
function plannedKinds(rng: Rng, activeYears: number): PlannedType[] {
  const activity = rng();
  const awardsPerYear = activity < 0.2 ? 10 : activity < 0.6 ? 5 : 2;
  return [
    ...Array<PlannedType>(poisson(rng, awardsPerYear * activeYears)).fill('award'),
    ...Array<PlannedType>(poisson(rng, 0.08 * activeYears)).fill('deduction'),
    ...Array<PlannedType>(poisson(rng, 3 * activeYears)).fill('redemption'),
  ];
}

/**
 * One planned entry of a kind at an instant, given the points the household can spend; a
 * redemption without at least 10 points to spend is not planned (undefined).
 */
function plannedEntry(
  rng: Rng,
  kind: PlannedType,
  at: number,
  sourceId: string,
  spendable: number,
): PlannedEntry | undefined {
  if (kind === 'award') {
    const rule = pickAward(rng);
    const { points, reason } = rule.make(rng);
    return {
      at,
      type: 'award',
      points,
      spendableDelta: points,
      meritDelta: points,
      ruleCode: rule.ruleCode,
      reason,
      sourceId,
    };
  }
  if (kind === 'deduction') {
    const d = pick(rng, DEDUCTIONS);
    return {
      at,
      type: 'deduction',
      points: -d.points,
      spendableDelta: -d.points,
      meritDelta: -d.points,
      ruleCode: d.ruleCode,
      reason: d.reason,
      sourceId,
    };
  }
  if (spendable < 10) return undefined;
  const cost = Math.min(spendable, 5 * between(rng, 2, 10));
  return {
    at,
    type: 'redemption',
    points: -cost,
    spendableDelta: -cost,
    meritDelta: 0,
    reason: `公益超市兑换：${pick(rng, GOODS)}`,
    sourceId,
  };
}

/**
 * The household's entries in time order. Event times are uniform over the household's time, in
 * office hours (09:00–18:00 Beijing), strictly increasing.
 */
function plannedEntries(
  rng: Rng,
  sourcePrefix: string,
  registeredAt: number,
  until: number,
): PlannedEntry[] {
  const kinds = plannedKinds(rng, (until - registeredAt) / YEAR_MS);
  const times = kinds.map(() => {
    const day =
      Math.floor((registeredAt + rng() * (until - registeredAt - DAY_MS)) / DAY_MS) * DAY_MS;
    return day + DAY_MS * (1 / 24 + (9 / 24) * rng());
  });
  const order = kinds.map((_, k) => k).sort((a, b) => times[a]! - times[b]! || a - b);
  const entries: PlannedEntry[] = [];
  let spendable = 0;
  let last = registeredAt;
  for (const k of order) {
    const at = Math.max(Math.floor(times[k]!), last + 1);
    const sourceId = `${sourcePrefix}:${entries.length + 1}`;
    const entry = plannedEntry(rng, kinds[k]!, at, sourceId, spendable);
    if (!entry) continue;
    entries.push(entry);
    // The ledger takes merit in full and spendable only as far as it goes (clamp).
    spendable = Math.max(0, spendable + entry.spendableDelta);
    last = at;
  }
  return entries;
}

/** The household's consent, for CONSENT_SHARE of households: most on paper, given lately. */
function plannedConsent(
  rng: Rng,
  opts: GenerateOptions,
  village: VillagePlan,
  i: number,
  registeredAt: number,
): PlannedConsent | undefined {
  if (rng() >= CONSENT_SHARE) return undefined;
  const until = opts.until.getTime();
  const from = Math.max(registeredAt, until - Math.min(opts.years, 2) * YEAR_MS);
  const grantedAt = from + Math.floor(rng() * (until - from - DAY_MS));
  const paper = rng() < 0.7;
  return {
    id: objectIdAt(grantedAt, opts.seed, village.code, i, 'consent'),
    grantedAt,
    expiresAt: grantedAt + CONSENT_MS,
    method: paper ? 'paper_form' : 'household',
    ...(paper ? { formRef: `授权书-${village.code}-${pad(i + 1, 4)}` } : {}),
    customerRef: `NS${pad(village.index + 1, 5)}${pad(i + 1, 4)}`,
  };
}

/**
 * One household of a village: its people, card, registration, entries and consent.
 * Deterministic: every random draw comes from the household's own seed, in a fixed order.
 */
export function planHousehold(
  opts: GenerateOptions,
  village: VillagePlan,
  i: number,
): HouseholdPlan {
  const seed = subSeed(opts.seed, village.code, i);
  const rng = createRng(seed);
  const person = generateHouseholds(seed, 1)[0]!;
  const until = opts.until.getTime();
  const start = until - opts.years * YEAR_MS;
  // Most households were registered when the programme started; some joined later.
  const registeredAt =
    rng() < 0.85
      ? start + Math.floor(rng() * 30 * DAY_MS)
      : start + Math.floor(rng() * (until - start - 7 * DAY_MS));
  const sourcePrefix = `${opts.seed}:${village.code}:${i}`;
  const plan: HouseholdPlan = {
    id: objectIdAt(registeredAt, opts.seed, village.code, i, 'household'),
    cardNo: `G${opts.seed}-${pad(village.index + 1, 5)}-${pad(i + 1, 4)}`,
    head: person.head,
    members: person.members,
    registeredAt,
    entries: plannedEntries(rng, sourcePrefix, registeredAt, until),
  };
  const consent = plannedConsent(rng, opts, village, i, registeredAt);
  if (consent) plan.consent = consent;
  return plan;
}

/** Midnight UTC of today: the default end of the history. */
export function todayUtcMidnight(now = Date.now()): Date {
  return new Date(Math.floor(now / DAY_MS) * DAY_MS);
}
