import { z } from '../../platform/validation';
import { RANKING_LEVELS } from './rankings.formula';

/** A unit's metrics for the month (rankings.formula.ts computes its index from them). */
export const unitMetricsSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** Orders of the unit rated (the loop closed) in the month. */
  ordersCompleted: z.number().int(),
  /** Mean stars of those orders, two decimals; null without any. */
  averageStars: z.number().nullable(),
  /** Median hours from ordering to acceptance of orders accepted in the month; null without any. */
  takeTimeHours: z.number().nullable(),
  /** Volunteer hours of the month's rated orders per resident (stations; null for teams). */
  hoursPerResident: z.number().nullable(),
  /** Share of households that ordered a service or had an award posted in the month (stations). */
  activeHouseholdShare: z.number().nullable(),
  /** Points of awards posted in the month (a team: those filed from its orders). */
  pointsAwarded: z.number().int(),
});

/** A unit with its rank and index. */
export const itemSchema = unitMetricsSchema.extend({
  rank: z.number().int(),
  index: z.number(),
});

export const rankingSchema = z
  .object({
    period: z.string(),
    level: z.enum(RANKING_LEVELS),
    countyId: z.string(),
    computedAt: z.string(),
    /** False for the month still running (computed now, not stored). */
    final: z.boolean(),
    formulaVersion: z.number().int(),
    items: z.array(itemSchema),
  })
  .openapi('Ranking');
