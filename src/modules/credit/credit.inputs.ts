/**
 * What the score reads, all as of an instant: a household's own entries (from its chain) and
 * its village's award level. Only data posted at or before `asOf` is used, and `asOf` is never
 * later than `settledBefore()`, so everything read here can no longer change: the same asOf
 * gives the same inputs whatever is posted afterwards.
 *
 * Bulk reads (a village's level, an export's chunk) query the ledger's entries collection
 * directly, read-only, with one `$in` query per chunk of households: on FerretDB's SQLite backend
 * each query is a scan, so one query per chunk instead of one per entry is what keeps them
 * affordable. The single-household path goes through the ledger service.
 */
import { isDuplicateKeyError } from '../../platform/errors';
import { Household } from '../households/households.model';
import { Entry } from '../ledger/ledger.model';
import { listEntries } from '../ledger/ledger.service';
import { ownWindowAwardPoints, villageLevelAt, villageWindow, type ModelWeights, type ScoreEntry, type VillageLevel } from './credit.score';
import { VillageLevelMemo } from './credit.model';

/**
 * How far behind the present an answer's asOf must lie. The ledger stamps an entry just before
 * inserting it, so an entry stamped at t may become visible a moment after t; an asOf older than
 * this margin only covers entries that are already visible.
 */
export const SETTLE_MS = 2000;
/** Households per bulk `$in` read. */
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

type EntryRow = { seq: number; type: ScoreEntry['type']; meritDelta: number; createdAt: Date | string; ruleCode?: string | null };

function toScoreEntries(rows: EntryRow[], asOf: Date): HouseholdEntries {
  const limit = asOf.getTime();
  const entries: ScoreEntry[] = [];
  let throughSeq = 0;
  for (const r of [...rows].sort((a, b) => a.seq - b.seq)) {
    const at = new Date(r.createdAt).getTime();
    if (at > limit) continue;
    entries.push({ type: r.type, meritDelta: r.meritDelta, createdAt: at, ...(r.ruleCode ? { ruleCode: r.ruleCode } : {}) });
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

/** Entries of many households at once (an export chunk), posted at or before asOf. */
export async function entriesOfHouseholds(householdIds: string[], asOf: Date): Promise<Map<string, HouseholdEntries>> {
  const rows = await Entry.find({ householdId: { $in: householdIds }, createdAt: { $lte: asOf } })
    .select({ _id: 0, householdId: 1, seq: 1, type: 1, meritDelta: 1, createdAt: 1, ruleCode: 1 })
    .lean<(EntryRow & { householdId: string })[]>();
  const byHousehold = new Map<string, EntryRow[]>();
  for (const r of rows) {
    let list = byHousehold.get(r.householdId);
    if (!list) byHousehold.set(r.householdId, (list = []));
    list.push(r);
  }
  const out = new Map<string, HouseholdEntries>();
  for (const id of householdIds) out.set(id, toScoreEntries(byHousehold.get(id) ?? [], asOf));
  return out;
}

const levelKey = (m: ModelWeights, villageId: string, levelAt: Date) => `${villageId}_${levelAt.toISOString().slice(0, 7)}_${m.version}`;

/** Sums a village's award level at levelAt from its households' entries (bulk reads). */
async function computeVillageLevel(m: ModelWeights, villageId: string, levelAt: Date): Promise<{ households: number; awardPoints: number }> {
  const { from, to } = villageWindow(m, levelAt);
  let households = 0;
  let awardPoints = 0;
  let chunk: string[] = [];
  const flush = async () => {
    if (!chunk.length) return;
    const rows = await Entry.find({ householdId: { $in: chunk }, type: 'award', createdAt: { $gt: from, $lte: to } })
      .select({ _id: 0, meritDelta: 1 })
      .lean<{ meritDelta: number }[]>();
    for (const r of rows) awardPoints += r.meritDelta;
    chunk = [];
  };
  const cursor = Household.find({ villageId, createdAt: { $lte: levelAt } }).select({ _id: 1 }).lean<{ _id: { toHexString(): string } }[]>().cursor({ batchSize: BULK_CHUNK });
  for await (const h of cursor) {
    households++;
    chunk.push(h._id.toHexString());
    if (chunk.length >= BULK_CHUNK) await flush();
  }
  await flush();
  return { households, awardPoints };
}

/**
 * The village's level at the start of asOf's month (households registered then, and their award
 * points in the year before), memoised: computed once per village, month and model.
 */
export interface VillageTotals {
  levelAt: Date;
  households: number;
  awardPoints: number;
}

export async function villageTotalsAt(m: ModelWeights, villageId: string, asOf: Date): Promise<VillageTotals> {
  const levelAt = villageLevelAt(asOf);
  const _id = levelKey(m, villageId, levelAt);
  const memo = await VillageLevelMemo.findById(_id).lean();
  if (memo) return { levelAt, households: memo.households, awardPoints: memo.awardPoints };
  const totals = await computeVillageLevel(m, villageId, levelAt);
  try {
    await VillageLevelMemo.create([{ _id, villageId, levelAt, modelVersion: m.version, ...totals, computedAt: new Date() }]);
  } catch (err) {
    // Another process computed the same month at the same time, from the same settled data.
    if (!isDuplicateKeyError(err)) throw err;
  }
  return { levelAt, ...totals };
}

/**
 * The totals of many villages at once (an export): memos read in one query, and the missing
 * villages computed together in one pass over their households, instead of one pass each.
 * Memory is bounded by the number of villages.
 */
export async function villageTotalsOf(m: ModelWeights, villageIds: string[], asOf: Date): Promise<Map<string, VillageTotals>> {
  const levelAt = villageLevelAt(asOf);
  const out = new Map<string, VillageTotals>();
  const memos = await VillageLevelMemo.find({ _id: { $in: villageIds.map((v) => levelKey(m, v, levelAt)) } }).lean();
  for (const memo of memos) out.set(memo.villageId, { levelAt, households: memo.households, awardPoints: memo.awardPoints });
  const missing = villageIds.filter((v) => !out.has(v));
  if (!missing.length) return out;
  for (const v of missing) out.set(v, { levelAt, households: 0, awardPoints: 0 });
  const { from, to } = villageWindow(m, levelAt);
  let chunk = new Map<string, string>();
  const flush = async () => {
    if (!chunk.size) return;
    const rows = await Entry.find({ householdId: { $in: [...chunk.keys()] }, type: 'award', createdAt: { $gt: from, $lte: to } })
      .select({ _id: 0, householdId: 1, meritDelta: 1 })
      .lean<{ householdId: string; meritDelta: number }[]>();
    for (const r of rows) out.get(chunk.get(r.householdId)!)!.awardPoints += r.meritDelta;
    chunk = new Map();
  };
  const cursor = Household.find({ villageId: { $in: missing }, createdAt: { $lte: levelAt } })
    .select({ _id: 1, villageId: 1 })
    .lean<{ _id: { toHexString(): string }; villageId: string }[]>()
    .cursor({ batchSize: BULK_CHUNK });
  for await (const h of cursor) {
    out.get(h.villageId)!.households++;
    chunk.set(h._id.toHexString(), h.villageId);
    if (chunk.size >= BULK_CHUNK) await flush();
  }
  await flush();
  for (const v of missing) {
    const t = out.get(v)!;
    try {
      await VillageLevelMemo.create([{ _id: levelKey(m, v, levelAt), villageId: v, levelAt, modelVersion: m.version, households: t.households, awardPoints: t.awardPoints, computedAt: new Date() }]);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
  }
  return out;
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
    otherAwardPoints: Math.max(0, totals.awardPoints - ownWindowAwardPoints(m, totals.levelAt, own)),
  };
}
