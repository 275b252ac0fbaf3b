/**
 * The ledger's answers as the API shows them: an entry and an account. The views
 * (`EntryView`, `AccountView`) are `z.infer` of these schemas, and /openapi.json is made from
 * them, so the two cannot drift. The household routes serve them (households.schemas.ts
 * re-exports them).
 */
import { z } from '../../platform/validation';
import { ENTRY_TYPES } from './ledger.model';

export const accountSchema = z
  .object({
    householdId: z.string(),
    spendable: z.number().int(),
    merit: z.number().int(),
    entryCount: z.number().int(),
    head: z.object({ seq: z.number().int(), hash: z.string() }),
  })
  .openapi('Account');

export const entrySchema = z
  .object({
    seq: z.number().int(),
    type: z.enum(ENTRY_TYPES),
    points: z.number().int(),
    spendableDelta: z.number().int(),
    meritDelta: z.number().int(),
    spendableAfter: z.number().int(),
    meritAfter: z.number().int(),
    ruleCode: z.string().optional(),
    reason: z.string().optional(),
    sourceType: z.string(),
    sourceId: z.string(),
    createdAt: z.string(),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi('Entry');
