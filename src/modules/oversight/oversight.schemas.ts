import { z } from '../../platform/validation';
import { CONCENTRATION_REASONS } from './concentration';

/** A member's approvals on one set of households, against the rest of the council's. */
export const shareOfSchema = z.object({
  householdIds: z.array(z.string()),
  approvals: z.number().int(),
  /** The member's approvals on these households / all the member's approvals. */
  share: z.number(),
  /** The other members' approvals on the same households / all their approvals. */
  othersShare: z.number(),
  flagged: z.boolean(),
});
export const shareSchema = shareOfSchema.nullable();

/** One council member's concentration (concentration.ts computes it). */
export const memberConcentrationSchema = z.object({
  memberId: z.string(),
  approvals: z.number().int(),
  topHouseholds: z.array(z.object({ householdId: z.string(), approvals: z.number().int() })),
  kin: shareSchema,
  fewHouseholds: shareSchema,
  relatedGroup: shareSchema,
  flagged: z.boolean(),
  reasons: z.array(z.enum(CONCENTRATION_REASONS)),
});
export const reportSchema = z
  .object({
    villageId: z.string(),
    from: z.string(),
    to: z.string(),
    threshold: z.number(),
    minApprovals: z.number().int(),
    lift: z.number(),
    flagged: z.number().int(),
    members: z.array(memberConcentrationSchema.extend({ username: z.string() })),
  })
  .openapi('ConcentrationReport');

export const kinshipSchema = z
  .object({
    householdId: z.string(),
    lineage: z.string().nullable(),
    relatedHouseholdIds: z.array(z.string()),
    updatedAt: z.string().nullable(),
  })
  .openapi('Kinship');

export const flagSchema = z
  .object({
    id: z.string(),
    villageId: z.string(),
    townshipId: z.string().nullable(),
    target: z.union([
      z.object({ type: z.literal('redemption'), storeId: z.string(), redemptionId: z.string() }),
      z.object({
        type: z.literal('stock_movement'),
        storeId: z.string(),
        sku: z.string(),
        seq: z.number().int(),
      }),
    ]),
    reason: z.string(),
    by: z.string(),
    createdAt: z.string(),
    resolution: z.object({ note: z.string(), by: z.string(), at: z.string() }).nullable(),
  })
  .openapi('OversightFlag');
