/**
 * Scoring many households as of one instant with one pass over the ledger: the batch form of
 * `scoreAsOf` (credit.service.ts), for a village's or a county's households at once.
 *
 * Why: a look-up reads one household's chain by `_id` (one round trip per entry) and, when its
 * village's month is not memoised yet, a scan of the entries. For many households that is many
 * round trips per household, while FerretDB's SQLite backend scans the whole entries collection
 * for any other filter anyway. So the batch streams the scored entries up to asOf once (no sort,
 * no `$in` of households), keeps those of the batch's households, sums the award level of the
 * villages not memoised yet in the same pass, and then scores each household with the same pure
 * function and the same inputs as the look-up, so each answer equals `scoreAsOf` for it.
 *
 * Memory: the batch's households and their scored entries (awards, deductions, adjustments,
 * reversals; spending is not read), never the other rows of the ledger; answers are yielded one
 * household at a time.
 */
import { Types } from 'mongoose';
import { streamHouseholdsOfVillages } from '../households/households.service';
import { streamEntries, type EntryType } from '../ledger/ledger.service';
import {
  BULK_CHUNK,
  memoisedVillageTotals,
  memoiseVillageTotals,
  toScoreEntries,
  type EntryRow,
  type VillageTotals,
} from './credit.inputs';
import { villageLevelAt, villageWindow, type ModelWeights } from './credit.score';
import { scoreAsOf, type CreditSettings, type CreditView } from './credit.service';

/** Entry types that can move a score; spending (redemption, expiry) is not even read. */
export const SCORED_TYPES: readonly EntryType[] = ['award', 'deduction', 'adjustment', 'reversal'];

/** What the batch needs of a household: what `scoreAsOf` reads of it. */
export interface BatchHousehold {
  id: string;
  villageId: string;
  createdAt: Date;
}

/**
 * The totals of villages whose month is not memoised yet: members registered by levelAt (one
 * stream of the villages' households); their award points are added during the entries pass.
 */
async function missingTotals(
  m: ModelWeights,
  villageIds: string[],
  asOf: Date,
): Promise<{
  totals: Map<string, VillageTotals>;
  missing: string[];
  members: Map<string, string>;
}> {
  const totals = await memoisedVillageTotals(m, villageIds, asOf);
  const missing = villageIds.filter((v) => !totals.has(v));
  const levelAt = villageLevelAt(asOf);
  const members = new Map<string, string>();
  for (const v of missing) totals.set(v, { levelAt, households: 0, awardPoints: 0 });
  for await (const h of streamHouseholdsOfVillages(missing, {
    createdThrough: levelAt,
    batchSize: BULK_CHUNK,
  })) {
    members.set(h.id, h.villageId);
    totals.get(h.villageId)!.households++;
  }
  return { totals, missing, members };
}

/**
 * Scores every household of `households` as of `asOf`, yielding each answer (the view
 * `scoreAsOf` gives) in the order given. One stream of the entries; the missing village levels
 * are memoised as the look-up path would.
 */
export async function* scoreHouseholds(
  households: readonly BatchHousehold[],
  asOf: Date,
  model: ModelWeights,
  settings: CreditSettings,
): AsyncGenerator<CreditView> {
  const rows = new Map<string, EntryRow[]>();
  for (const h of households) rows.set(h.id, []);
  const villageIds = [...new Set(households.map((h) => h.villageId))];
  const { totals, missing, members } = await missingTotals(model, villageIds, asOf);
  const { from, to } = villageWindow(model, villageLevelAt(asOf));
  for await (const e of streamEntries(SCORED_TYPES, { through: asOf }, BULK_CHUNK)) {
    rows.get(e.householdId)?.push(e);
    const at = e.createdAt.getTime();
    if (e.type !== 'award' || at <= from.getTime() || at > to.getTime()) continue;
    const village = members.get(e.householdId);
    if (village !== undefined) totals.get(village)!.awardPoints += e.meritDelta;
  }
  for (const v of missing) await memoiseVillageTotals(model, v, totals.get(v)!);
  for (const h of households) {
    const own = toScoreEntries(rows.get(h.id)!, asOf);
    const subject = {
      _id: new Types.ObjectId(h.id),
      villageId: h.villageId,
      createdAt: h.createdAt,
    };
    const { view } = await scoreAsOf(subject, asOf, model, settings, {
      own,
      villageTotals: totals.get(h.villageId)!,
    });
    yield view;
  }
}

/** Every household of some villages, scored as of asOf in one pass (see scoreHouseholds). */
export async function* scoreVillages(
  villageIds: readonly string[],
  asOf: Date,
  model: ModelWeights,
  settings: CreditSettings,
): AsyncGenerator<CreditView> {
  const households: BatchHousehold[] = [];
  for await (const h of streamHouseholdsOfVillages(villageIds, { batchSize: BULK_CHUNK }))
    households.push({ id: h.id, villageId: h.villageId, createdAt: h.createdAt });
  yield* scoreHouseholds(households, asOf, model, settings);
}
