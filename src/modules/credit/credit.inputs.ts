/**
 * What the score reads, all as of an instant: a household's own entries (from its chain) and
 * its village's award level. Only data posted at or before `asOf` is used, and `asOf` is never
 * later than `settledBefore()`, so everything read here can no longer change: the same asOf
 * gives the same inputs whatever is posted afterwards.
 *
 * Bulk reads (a village's level; the export, in credit.partitions.ts) stream the ledger's entries
 * collection directly, read-only, once: on FerretDB's SQLite backend every filter but `_id`
 * equality is a scan, so one stream beats many queries. The single-household path goes through
 * the ledger service.
 */
import { isDuplicateKeyError } from '../../platform/errors';
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
import { VillageLevelMemo } from './credit.model';

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

/** One household's entries posted at or before asOf, read from its chain. */
export async function householdEntries(householdId: string, asOf: Date): Promise<HouseholdEntries> {
  const rows: EntryRow[] = [];
  let after = 0;
  for (;;) {
    const page = await listEntries(householdId, after, CHAIN_PAGE);
    rows.push(...page.items);
    if (page.next === null) break;
    after = page.next;
  }
  return toScoreEntries(rows, asOf);
}

const levelKey = (m: ModelWeights, villageId: string, levelAt: Date) =>
  `${villageId}_${levelAt.toISOString().slice(0, 7)}_${m.version}`;

/**
 * Sums a village's award level at levelAt: its households (a set the size of one village), then
 * one stream over the award entries of the window, keeping those of the village. One pass each,
 * no `$in` of ids (on FerretDB's SQLite backend that compares every entry with every id).
 */
async function computeVillageLevel(
  m: ModelWeights,
  villageId: string,
  levelAt: Date,
): Promise<{ households: number; awardPoints: number }> {
  const { from, to } = villageWindow(m, levelAt);
  const members = new Set<string>();
  for await (const h of streamHouseholdsOfVillages([villageId], {
    createdThrough: levelAt,
    batchSize: BULK_CHUNK,
  }))
    members.add(h.id);
  let awardPoints = 0;
  if (members.size) {
    for await (const e of streamEntries(['award'], { after: from, through: to }, BULK_CHUNK))
      if (members.has(e.householdId)) awardPoints += e.meritDelta;
  }
  return { households: members.size, awardPoints };
}

export interface VillageTotals {
  levelAt: Date;
  households: number;
  awardPoints: number;
}

/**
 * Village totals being read or computed in this process, by memo key: concurrent look-ups of a
 * village whose month is not memoised yet share one computation (one scan), not one each. Held
 * only while in flight; the stored memo is the record.
 */
const inFlightTotals = new Map<string, Promise<VillageTotals>>();
function shareTotals(key: string, compute: () => Promise<VillageTotals>): Promise<VillageTotals> {
  const held = inFlightTotals.get(key);
  if (held) return held;
  const totals = compute().finally(() => inFlightTotals.delete(key));
  inFlightTotals.set(key, totals);
  return totals;
}

async function readOrComputeTotals(
  m: ModelWeights,
  villageId: string,
  levelAt: Date,
  _id: string,
): Promise<VillageTotals> {
  const memo = await VillageLevelMemo.findById(_id).lean();
  if (memo) return { levelAt, households: memo.households, awardPoints: memo.awardPoints };
  const totals = await computeVillageLevel(m, villageId, levelAt);
  try {
    await VillageLevelMemo.create([
      { _id, villageId, levelAt, modelVersion: m.version, ...totals, computedAt: new Date() },
    ]);
  } catch (err) {
    // Another process computed the same month at the same time, from the same settled data.
    if (!isDuplicateKeyError(err)) throw err;
  }
  return { levelAt, ...totals };
}

export async function villageTotalsAt(
  m: ModelWeights,
  villageId: string,
  asOf: Date,
): Promise<VillageTotals> {
  const levelAt = villageLevelAt(asOf);
  const _id = levelKey(m, villageId, levelAt);
  return shareTotals(_id, () => readOrComputeTotals(m, villageId, levelAt, _id));
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
  try {
    await VillageLevelMemo.create([
      {
        _id: levelKey(m, villageId, t.levelAt),
        villageId,
        levelAt: t.levelAt,
        modelVersion: m.version,
        households: t.households,
        awardPoints: t.awardPoints,
        computedAt: new Date(),
      },
    ]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
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
