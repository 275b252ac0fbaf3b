/**
 * What the score reads, all as of an instant: a household's own entries (from its chain) and
 * its village's award level. Only data posted at or before `asOf` is used, and `asOf` is never
 * later than `settledBefore()`, so everything read here can no longer change: the same asOf
 * gives the same inputs whatever is posted afterwards.
 *
 * Bulk reads (the month's village levels, every village in one pass; the export, in
 * credit.partitions.ts) stream the ledger's entries collection directly, read-only, once: on
 * FerretDB's SQLite backend every filter but `_id` equality is a scan, so one stream beats many
 * queries. The single-household path goes through the ledger service.
 */
import { insertNew, registerHints } from '../../platform/db';
import { isDuplicateKeyError } from '../../platform/errors';
import { listAllVillages } from '../villages/villages.service';
import { streamHouseholdsOfVillages } from '../households/households.service';
import { streamEntries } from '../ledger/ledger.service';
import { listEntries } from '../ledger/ledger.service';
import {
  ownWindowAwardPoints,
  villageLevelAt,
  villageWindow,
  type ModelWeights,
  type ScoreEntry,
  type VillageLevel,
} from './credit.score';
import { SweepMark, VillageLevelMemo } from './credit.model';

/**
 * How far behind the present an answer's asOf must lie. The ledger stamps an entry just before
 * inserting it, so an entry stamped at t may become visible a moment after t; an asOf older than
 * this margin only covers entries that are already visible.
 */
export const SETTLE_MS = 2000;
/** Cursor batch size of the bulk reads. */
export const BULK_CHUNK = 1000;
/** Entries per page when reading one chain. */
const CHAIN_PAGE = 500;

/** The latest asOf an answer may use now: SETTLE_MS in the past. */
export function settledBefore(now = Date.now()): Date {
  return new Date(now - SETTLE_MS);
}

/** A household's entries as the score reads them, plus the seq of the newest one counted. */
export interface HouseholdEntries {
  entries: ScoreEntry[];
  throughSeq: number;
}

export type EntryRow = {
  seq: number;
  type: ScoreEntry['type'];
  meritDelta: number;
  createdAt: Date | string;
  ruleCode?: string | null;
};

/** The score's view of a household's rows: those posted by asOf, in seq order. */
export function toScoreEntries(rows: readonly EntryRow[], asOf: Date): HouseholdEntries {
  const limit = asOf.getTime();
  const entries: ScoreEntry[] = [];
  let throughSeq = 0;
  for (const r of [...rows].sort((a, b) => a.seq - b.seq)) {
    const at = new Date(r.createdAt).getTime();
    if (at > limit) continue;
    entries.push({
      type: r.type,
      meritDelta: r.meritDelta,
      createdAt: at,
      ...(r.ruleCode ? { ruleCode: r.ruleCode } : {}),
    });
    throughSeq = Math.max(throughSeq, r.seq);
  }
  return { entries, throughSeq };
}

/** Every entry of one household's chain, oldest first, read by `_id` a page at a time. */
export async function chainRows(householdId: string): Promise<EntryRow[]> {
  const rows: EntryRow[] = [];
  let after = 0;
  for (;;) {
    const page = await listEntries(householdId, after, CHAIN_PAGE);
    rows.push(...page.items);
    if (page.next === null) break;
    after = page.next;
  }
  return rows;
}

/** One household's entries posted at or before asOf, read from its chain. */
export async function householdEntries(householdId: string, asOf: Date): Promise<HouseholdEntries> {
  return toScoreEntries(await chainRows(householdId), asOf);
}

const levelKey = (m: ModelWeights, villageId: string, levelAt: Date) =>
  `${villageId}_${levelAt.toISOString().slice(0, 7)}_${m.version}`;

/**
 * Households whose village one pass over the month's levels keeps in memory (about 100 bytes
 * each): up to this many, every village is summed in one pass; beyond it the villages are taken
 * in groups of about this many households.
 */
export const LEVEL_PASS_HOUSEHOLDS = 250_000;

type LevelSums = { households: number; awardPoints: number };

/** Villages in groups of at most `budget` households at levelAt (a larger village alone). */
function groupVillages(sums: Map<string, LevelSums>, budget: number): Set<string>[] {
  const groups: Set<string>[] = [];
  let group = new Set<string>();
  let size = 0;
  for (const [village, t] of sums) {
    if (group.size && size + t.households > budget) {
      groups.push(group);
      group = new Set();
      size = 0;
    }
    group.add(village);
    size += t.households;
  }
  if (group.size) groups.push(group);
  return groups;
}

/** Which village each household of `villages` registered by levelAt belongs to. */
async function membersOf(villages: Set<string>, levelAt: Date): Promise<Map<string, string>> {
  const members = new Map<string, string>();
  for await (const h of streamHouseholdsOfVillages('all', {
    createdThrough: levelAt,
    batchSize: BULK_CHUNK,
  }))
    if (villages.has(h.villageId)) members.set(h.id, h.villageId);
  return members;
}

/**
 * Every village's award level at levelAt, in as few passes as memory allows (`budget`
 * households held). One stream of the households registered by levelAt counts each village's
 * members and notes each household's village; one stream of the window's award entries adds the
 * points to the member's village. Past the budget the households' villages are read again per
 * group of villages, with one stream of the entries per group. No `$in` of ids anywhere: on
 * FerretDB's SQLite backend each stream is one scan, so the month costs two scans for every
 * village at once, where one village at a time cost two scans per village. A village absent from
 * the answer had no household registered by levelAt: its totals are zero.
 */
export async function computeMonthLevels(
  m: ModelWeights,
  levelAt: Date,
  budget = LEVEL_PASS_HOUSEHOLDS,
): Promise<Map<string, LevelSums>> {
  const sums = new Map<string, LevelSums>();
  let members: Map<string, string> | undefined = new Map();
  for await (const h of streamHouseholdsOfVillages('all', {
    createdThrough: levelAt,
    batchSize: BULK_CHUNK,
  })) {
    let t = sums.get(h.villageId);
    if (!t) sums.set(h.villageId, (t = { households: 0, awardPoints: 0 }));
    t.households++;
    if (members && members.size < budget) members.set(h.id, h.villageId);
    else members = undefined; // over budget: read again per group below
  }
  const { from, to } = villageWindow(m, levelAt);
  const groups = members ? [members] : groupVillages(sums, budget);
  for (const group of groups) {
    const of = group instanceof Map ? group : await membersOf(group, levelAt);
    for await (const e of streamEntries(['award'], { after: from, through: to }, BULK_CHUNK)) {
      const village = of.get(e.householdId);
      if (village !== undefined) sums.get(village)!.awardPoints += e.meritDelta;
    }
  }
  return sums;
}

/** A village's memoised level for the month of levelAt, as `credit_village_levels` stores it. */
function memoDoc(
  m: ModelWeights,
  villageId: string,
  levelAt: Date,
  t: LevelSums,
  computedAt: Date,
) {
  return {
    _id: levelKey(m, villageId, levelAt),
    villageId,
    levelAt,
    modelVersion: m.version,
    households: t.households,
    awardPoints: t.awardPoints,
    computedAt,
  };
}

/**
 * Computes every village's level for one month and memoises it, including a zero for each
 * village without households by then (so that its look-ups find a memo too). The first memo of a
 * village stands: another process computing the same month wrote the same settled figures.
 */
async function computeAndMemoiseMonth(
  m: ModelWeights,
  levelAt: Date,
): Promise<Map<string, LevelSums>> {
  const sums = await computeMonthLevels(m, levelAt);
  const villages = new Set([
    ...(await listAllVillages()).map((v) => v._id.toHexString()),
    ...sums.keys(),
  ]);
  const computedAt = new Date();
  const memos = [...villages].map((villageId) =>
    memoDoc(
      m,
      villageId,
      levelAt,
      sums.get(villageId) ?? { households: 0, awardPoints: 0 },
      computedAt,
    ),
  );
  for (let i = 0; i < memos.length; i += BULK_CHUNK)
    await insertNew(VillageLevelMemo, memos.slice(i, i + BULK_CHUNK));
  return sums;
}

export interface VillageTotals {
  levelAt: Date;
  households: number;
  awardPoints: number;
}

/** Months whose levels this process keeps in memory once computed (settled data: never stale). */
const MONTHS_HELD = 12;
/**
 * The months this process computed or is computing, by month and model: concurrent look-ups of
 * villages whose month is not memoised yet share one computation (one pass for all villages),
 * and a look-up that missed the memo just before the computation wrote it finds the result here
 * instead of starting another. The stored memos are the record; reconnecting forgets these.
 */
const months = registerHints(new Map<string, Promise<Map<string, LevelSums>>>());
function shareMonth(m: ModelWeights, levelAt: Date): Promise<Map<string, LevelSums>> {
  const key = `${levelAt.toISOString()}_${m.version}`;
  const held = months.get(key);
  if (held) return held;
  const month = computeAndMemoiseMonth(m, levelAt);
  months.set(key, month);
  month.catch(() => months.delete(key));
  while (months.size > MONTHS_HELD) months.delete(months.keys().next().value!);
  return month;
}

/** The mark (in `credit_sweep_marks`) that every village's level of a month is memoised. */
const monthMark = (m: ModelWeights, levelAt: Date) =>
  `levels_${levelAt.toISOString().slice(0, 7)}_${m.version}`;

/**
 * Memoises every village's level for asOf's month unless its mark says that is done, then marks
 * it. The workers' sweep calls it (credit.jobs.ts), so that the month's computation (94 s at
 * 100,000 households on FerretDB-SQLite) is not paid by the first officer's look-up of the
 * month. Returns whether it computed.
 */
export async function ensureMonthLevels(m: ModelWeights, asOf: Date): Promise<boolean> {
  const levelAt = villageLevelAt(asOf);
  const _id = monthMark(m, levelAt);
  if (await SweepMark.findById(_id).lean()) return false;
  await shareMonth(m, levelAt);
  await SweepMark.updateOne({ _id }, { $set: { through: levelAt } }, { upsert: true }).catch(
    (err: unknown) => {
      if (!isDuplicateKeyError(err)) throw err; // marked by another process at the same time
    },
  );
  return true;
}

export async function villageTotalsAt(
  m: ModelWeights,
  villageId: string,
  asOf: Date,
): Promise<VillageTotals> {
  const levelAt = villageLevelAt(asOf);
  const memo = await VillageLevelMemo.findById(levelKey(m, villageId, levelAt)).lean();
  if (memo) return { levelAt, households: memo.households, awardPoints: memo.awardPoints };
  // The month is marked, so every village with households by levelAt has its memo: this one
  // was created since, and had none.
  if (await SweepMark.findById(monthMark(m, levelAt)).lean())
    return { levelAt, households: 0, awardPoints: 0 };
  const sums = (await shareMonth(m, levelAt)).get(villageId);
  return { levelAt, households: sums?.households ?? 0, awardPoints: sums?.awardPoints ?? 0 };
}

/** The memoised totals of many villages (one query); villages not yet memoised are absent. */
export async function memoisedVillageTotals(
  m: ModelWeights,
  villageIds: string[],
  asOf: Date,
): Promise<Map<string, VillageTotals>> {
  const levelAt = villageLevelAt(asOf);
  const memos = await VillageLevelMemo.find({
    _id: { $in: villageIds.map((v) => levelKey(m, v, levelAt)) },
  }).lean();
  return new Map(
    memos.map((memo) => [
      memo.villageId,
      { levelAt, households: memo.households, awardPoints: memo.awardPoints },
    ]),
  );
}

/** Stores totals computed elsewhere (an export's partitions); the first computation stands. */
export async function memoiseVillageTotals(
  m: ModelWeights,
  villageId: string,
  t: VillageTotals,
): Promise<void> {
  await insertNew(VillageLevelMemo, [memoDoc(m, villageId, t.levelAt, t, new Date())]);
}

/** The level of the household's neighbours: the village's totals without the household itself. */
export function neighbourLevel(
  m: ModelWeights,
  totals: VillageTotals,
  household: { createdAt: Date },
  own: readonly ScoreEntry[],
): VillageLevel {
  const counted = household.createdAt.getTime() <= totals.levelAt.getTime() ? 1 : 0;
  return {
    otherHouseholds: Math.max(0, totals.households - counted),
    otherAwardPoints: Math.max(
      0,
      totals.awardPoints - ownWindowAwardPoints(m, totals.levelAt, own),
    ),
  };
}
