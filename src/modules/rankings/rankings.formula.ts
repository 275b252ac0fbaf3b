/**
 * The monthly evaluation index (考评指数) of township stations, village stations and volunteer
 * teams: a pure function of each unit's metrics for the month, so that a stored ranking can be
 * recomputed from the records and compared (table-tested without a database). docs/rankings.md
 * explains it for the people ranked.
 *
 * Every component is a number in [0, 1]; the index is their weighted sum, 0–100, one decimal:
 *
 *   orders   ordersCompleted / the most any unit of the same level completed that month
 *   stars    (averageStars − 1) / 4          (0 without a rated order)
 *   speed    24 / (24 + takeTimeHours)       (1 when taken at once, 0.5 after a day; 0 without)
 *   hours    hoursPerResident / the highest of the level          (stations only)
 *   active   activeHouseholdShare                                 (stations only)
 *   points   pointsAwarded / the most any unit of the level awarded
 *
 *   stations: 25·orders + 20·stars + 15·speed + 15·hours + 15·active + 10·points
 *   teams:    40·orders + 30·stars + 20·speed + 10·points
 *
 * Relative components (orders, hours, points) compare a unit with its peers of the same county,
 * level and month; a month in which no unit had any gives every unit 0 for it. Units are ranked
 * by index, highest first; equal indexes share a rank (1, 2, 2, 4); ties are listed by orders
 * completed, then by id, so the order is the same every time.
 */
import type { z } from '../../platform/validation';
import type { itemSchema, unitMetricsSchema } from './rankings.schemas';

export const RANKING_LEVELS = ['township', 'village', 'team'] as const;
export type RankingLevel = (typeof RANKING_LEVELS)[number];

/** Bumped whenever the formula or a metric's definition changes (stored with each ranking). */
export const FORMULA_VERSION = 1;

export type UnitMetrics = z.infer<typeof unitMetricsSchema>;

export type RankedItem = z.infer<typeof itemSchema>;

export const WEIGHTS = {
  station: { orders: 25, stars: 20, speed: 15, hours: 15, active: 15, points: 10 },
  team: { orders: 40, stars: 30, speed: 20, hours: 0, active: 0, points: 10 },
} as const;

/** Rounds to `digits` decimals (metrics are stored rounded, and the index uses them as stored). */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function speedScore(takeTimeHours: number | null): number {
  return takeTimeHours === null ? 0 : 24 / (24 + Math.max(0, takeTimeHours));
}

export function starsScore(averageStars: number | null): number {
  return averageStars === null ? 0 : Math.min(1, Math.max(0, (averageStars - 1) / 4));
}

const share = (x: number | null, max: number) => (x === null || max <= 0 ? 0 : x / max);

/** The index of one unit among its peers (0–100, one decimal). */
export function indexOf(
  u: UnitMetrics,
  peers: readonly UnitMetrics[],
  level: RankingLevel,
): number {
  const w = level === 'team' ? WEIGHTS.team : WEIGHTS.station;
  const maxOf = (f: (m: UnitMetrics) => number | null) =>
    Math.max(0, ...peers.map((m) => f(m) ?? 0));
  const total =
    w.orders *
      share(
        u.ordersCompleted,
        maxOf((m) => m.ordersCompleted),
      ) +
    w.stars * starsScore(u.averageStars) +
    w.speed * speedScore(u.takeTimeHours) +
    w.hours *
      share(
        u.hoursPerResident,
        maxOf((m) => m.hoursPerResident),
      ) +
    w.active * (u.activeHouseholdShare ?? 0) +
    w.points *
      share(
        u.pointsAwarded,
        maxOf((m) => m.pointsAwarded),
      );
  return round(total, 1);
}

/** Ranks the units of one level and month: index, then rank (equal indexes share a rank). */
export function rankUnits(units: readonly UnitMetrics[], level: RankingLevel): RankedItem[] {
  const withIndex = units.map((u) => ({ ...u, index: indexOf(u, units, level), rank: 0 }));
  withIndex.sort(
    (a, b) =>
      b.index - a.index ||
      b.ordersCompleted - a.ordersCompleted ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  withIndex.forEach((u, i) => {
    u.rank = i > 0 && withIndex[i - 1]!.index === u.index ? withIndex[i - 1]!.rank : i + 1;
  });
  return withIndex;
}

/** The median of some numbers (null for none). */
export function median(xs: readonly number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
