/**
 * Monthly rankings (考评指数) of township stations, village stations and volunteer teams.
 *
 * Invariants:
 * - K1 a month's ranking is computed from the records alone (orders' events, postings,
 *   households), each counted by a time that never changes once written (rated, accepted,
 *   ordered, posted, registered), so computing it again gives the same items.
 * - K2 a finished month is stored once per county and level (unique `_id`) and never changed;
 *   the job stores it an hour after the month ends (RANKING_GRACE_MS, so that writes stamped
 *   just before midnight have landed), and catches up on months it missed.
 * - K3 months are calendar months in UTC, like the boards.
 */
import { clock } from '../../platform/clock';
import { isDuplicateKeyError, validationError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { Principal } from '../../platform/principal';
import { listHouseholdsOfVillages } from '../households/households.service';
import { listCounties, listTownshipDocs } from '../levels/levels.service';
import { resolveCounty } from '../levels/levels.views';
import { orderFactsOfCounty, type OrderFacts } from '../service-orders/service-orders.facts';
import { listPostedLinesBetween } from '../submissions/submissions.service';
import { listCountyTeams } from '../teams/teams.service';
import { listAllVillages } from '../villages/villages.service';
import {
  FORMULA_VERSION,
  median,
  rankUnits,
  round,
  type RankedItem,
  type RankingLevel,
  type UnitMetrics,
} from './rankings.formula';
import { Ranking, type RankingDoc } from './rankings.model';
import type { z } from '../../platform/validation';
import type { rankingSchema } from './rankings.schemas';

/** A month is ranked this long after it ends. */
export const RANKING_GRACE_MS = 3600_000;
/** Months the job looks back for rankings it missed (e.g. workers down over a month's end). */
export const CATCH_UP_MONTHS = 3;
const HOUR_MS = 3600_000;

export function periodRange(period: string): [Date, Date] {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return [new Date(Date.UTC(y, m - 1, 1)), new Date(Date.UTC(y, m, 1))];
}

export function periodOf(d: Date): string {
  return d.toISOString().slice(0, 7);
}

/** The month `n` months before the one containing `d`. */
export function monthsBefore(d: Date, n: number): string {
  return periodOf(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, 1)));
}

const inPeriod = (d: Date | undefined, from: Date, to: Date) =>
  Boolean(d) && d!.getTime() >= from.getTime() && d!.getTime() < to.getTime();

/** What the county's records say about the month, gathered once for all three levels. */
interface MonthRecords {
  from: Date;
  to: Date;
  facts: OrderFacts[];
  villages: { id: string; name: string; townshipId?: string }[];
  /** Households registered before the month ended, by village: residents = head + members. */
  households: Map<string, { id: string; residents: number }[]>;
  /** Award postings of the month, by village. */
  awards: Map<string, { householdId: string; points: number; serviceOrderId?: string }[]>;
}

async function gatherMonth(countyId: string, period: string): Promise<MonthRecords> {
  const [from, to] = periodRange(period);
  const villageDocs = await listAllVillages({ countyId });
  const villages = villageDocs.map((v) => ({
    id: v._id.toHexString(),
    name: v.name,
    ...(v.townshipId ? { townshipId: v.townshipId } : {}),
  }));
  const ids = new Set(villages.map((v) => v.id));
  const households = new Map<string, { id: string; residents: number }[]>();
  for (const h of await listHouseholdsOfVillages([...ids])) {
    if (h.createdAt.getTime() >= to.getTime()) continue;
    const list = households.get(h.villageId) ?? [];
    list.push({ id: h._id.toHexString(), residents: 1 + (h.members?.length ?? 0) });
    households.set(h.villageId, list);
  }
  const awards = new Map<
    string,
    { householdId: string; points: number; serviceOrderId?: string }[]
  >();
  for (const l of await listPostedLinesBetween([...ids], from, to)) {
    if (l.kind !== 'award' || !ids.has(l.villageId)) continue;
    const list = awards.get(l.villageId) ?? [];
    list.push({
      householdId: l.householdId,
      points: l.points,
      ...(l.serviceOrderId ? { serviceOrderId: l.serviceOrderId } : {}),
    });
    awards.set(l.villageId, list);
  }
  return {
    from,
    to,
    facts: await orderFactsOfCounty(countyId, from, to),
    villages,
    households,
    awards,
  };
}

/** The order metrics of a set of orders in the month (shared by every level). */
function orderMetrics(facts: readonly OrderFacts[], from: Date, to: Date) {
  const rated = facts.filter((f) => inPeriod(f.ratedAt, from, to));
  const accepted = facts.filter((f) => inPeriod(f.acceptedAt, from, to));
  const stars = rated.map((f) => f.stars ?? 0);
  const take = median(
    accepted.map((f) => (f.acceptedAt!.getTime() - f.orderedAt.getTime()) / HOUR_MS),
  );
  return {
    ordersCompleted: rated.length,
    averageStars: stars.length ? round(stars.reduce((a, b) => a + b, 0) / stars.length, 2) : null,
    takeTimeHours: take === null ? null : round(take, 2),
    hours: rated.reduce((a, f) => a + f.hours, 0),
  };
}

/** The metrics of a station (a village, or a township as the sum of its villages). */
function stationMetrics(
  id: string,
  name: string,
  villageIds: readonly string[],
  m: MonthRecords,
): UnitMetrics {
  const set = new Set(villageIds);
  const orders = orderMetrics(
    m.facts.filter((f) => set.has(f.villageId)),
    m.from,
    m.to,
  );
  const households = villageIds.flatMap((v) => m.households.get(v) ?? []);
  const residents = households.reduce((a, h) => a + h.residents, 0);
  const awards = villageIds.flatMap((v) => m.awards.get(v) ?? []);
  const active = new Set([
    ...awards.map((a) => a.householdId),
    ...m.facts
      .filter((f) => set.has(f.villageId) && inPeriod(f.orderedAt, m.from, m.to))
      .map((f) => f.householdId),
  ]);
  const known = new Set(households.map((h) => h.id));
  return {
    id,
    name,
    ordersCompleted: orders.ordersCompleted,
    averageStars: orders.averageStars,
    takeTimeHours: orders.takeTimeHours,
    hoursPerResident: residents ? round(orders.hours / residents, 3) : null,
    activeHouseholdShare: households.length
      ? round([...active].filter((h) => known.has(h)).length / households.length, 3)
      : null,
    pointsAwarded: awards.reduce((a, x) => a + x.points, 0),
  };
}

async function unitsOf(
  countyId: string,
  level: RankingLevel,
  m: MonthRecords,
): Promise<UnitMetrics[]> {
  if (level === 'village') return m.villages.map((v) => stationMetrics(v.id, v.name, [v.id], m));
  if (level === 'township') {
    const townships = await listTownshipDocs({ countyId });
    return townships.map((t) =>
      stationMetrics(
        t._id,
        t.name,
        m.villages.filter((v) => v.townshipId === t._id).map((v) => v.id),
        m,
      ),
    );
  }
  const teams = await listCountyTeams(countyId);
  const teamOfOrder = new Map(m.facts.filter((f) => f.teamId).map((f) => [f.orderId, f.teamId!]));
  const pointsByTeam = new Map<string, number>();
  for (const list of m.awards.values()) {
    for (const a of list) {
      const team = a.serviceOrderId ? teamOfOrder.get(a.serviceOrderId) : undefined;
      if (team) pointsByTeam.set(team, (pointsByTeam.get(team) ?? 0) + a.points);
    }
  }
  return teams.map((t) => {
    const id = t._id.toHexString();
    const orders = orderMetrics(
      m.facts.filter((f) => f.teamId === id),
      m.from,
      m.to,
    );
    return {
      id,
      name: t.name,
      ordersCompleted: orders.ordersCompleted,
      averageStars: orders.averageStars,
      takeTimeHours: orders.takeTimeHours,
      hoursPerResident: null,
      activeHouseholdShare: null,
      pointsAwarded: pointsByTeam.get(id) ?? 0,
    };
  });
}

/** K1: a month's ranking of one level of a county, computed from the records. */
export async function computeRanking(
  countyId: string,
  period: string,
  level: RankingLevel,
): Promise<RankedItem[]> {
  const m = await gatherMonth(countyId, period);
  return rankUnits(await unitsOf(countyId, level, m), level);
}

export type RankingView = z.infer<typeof rankingSchema>;

const rankingId = (countyId: string, period: string, level: RankingLevel) =>
  `${countyId}:${period}:${level}`;

function toView(d: RankingDoc, final: boolean): RankingView {
  return {
    period: d.period,
    level: d.level,
    countyId: d.countyId,
    computedAt: d.computedAt.toISOString(),
    final,
    formulaVersion: d.formulaVersion,
    items: d.items,
  };
}

export async function findStoredRanking(
  countyId: string,
  period: string,
  level: RankingLevel,
): Promise<RankingDoc | undefined> {
  return (
    (await Ranking.findById(rankingId(countyId, period, level)).lean<RankingDoc>()) ?? undefined
  );
}

/** Whether a month has ended long enough ago to be ranked for good (K2). */
export function isRankable(period: string, now = clock.now()): boolean {
  return now.getTime() >= periodRange(period)[1].getTime() + RANKING_GRACE_MS;
}

/** K2: stores a finished month's ranking once; returns the stored one (first writer wins). */
export async function ensureRanking(
  countyId: string,
  period: string,
  level: RankingLevel,
): Promise<RankingDoc> {
  const stored = await findStoredRanking(countyId, period, level);
  if (stored) return stored;
  const doc: RankingDoc = {
    _id: rankingId(countyId, period, level),
    countyId,
    period,
    level,
    formulaVersion: FORMULA_VERSION,
    computedAt: clock.now(),
    items: await computeRanking(countyId, period, level),
  };
  try {
    await Ranking.create([doc]);
    return doc;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return (await findStoredRanking(countyId, period, level))!;
  }
}

/**
 * GET /v1/rankings: a finished month's stored ranking (stored now if the job has not yet), or
 * the running month computed on the spot (not stored). Another county is `not_found`.
 */
export async function getRanking(
  p: Principal,
  q: { period: string; level: RankingLevel; countyId?: string },
): Promise<RankingView> {
  const countyId = await resolveCounty(p, q.countyId);
  const now = clock.now();
  if (q.period > periodOf(now))
    throw validationError([{ path: 'period', message: 'a month that has not begun' }]);
  if (isRankable(q.period, now))
    return toView(await ensureRanking(countyId, q.period, q.level), true);
  const items = await computeRanking(countyId, q.period, q.level);
  return {
    period: q.period,
    level: q.level,
    countyId,
    computedAt: now.toISOString(),
    final: false,
    formulaVersion: FORMULA_VERSION,
    items,
  };
}

/** A village's place in its county's stored village ranking of a month (the board shows it). */
export async function villageRankOf(
  countyId: string | undefined,
  villageId: string,
  period: string,
) {
  if (!countyId) return null;
  const stored = await findStoredRanking(countyId, period, 'village');
  const item = stored?.items.find((i) => i.id === villageId);
  if (!stored || !item) return null;
  return {
    period,
    rank: item.rank,
    index: item.index,
    of: stored.items.length,
    computedAt: stored.computedAt.toISOString(),
  };
}

/**
 * The job: stores, for every county and level, each finished month of the last
 * CATCH_UP_MONTHS that is not stored yet. Run every few minutes; at the start of a month it
 * ranks the month before, and after an outage it catches up.
 */
export async function rankFinishedMonths(opts: { log?: Logger } = {}): Promise<{ stored: number }> {
  const now = clock.now();
  let stored = 0;
  for (const county of await listCounties()) {
    for (let n = CATCH_UP_MONTHS; n >= 1; n--) {
      const period = monthsBefore(now, n);
      if (!isRankable(period, now)) continue;
      for (const level of ['township', 'village', 'team'] as const) {
        if (await findStoredRanking(county._id, period, level)) continue;
        await ensureRanking(county._id, period, level);
        stored++;
        opts.log?.info({ countyId: county._id, period, level }, 'monthly ranking stored');
      }
    }
  }
  return { stored };
}
