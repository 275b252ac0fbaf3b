import { id, line, name, obj, points, queryInt, z } from '../../platform/validation';

export const CARD_NO_RE = /^[A-Za-z0-9-]{4,32}$/;
/** Largest single adjustment: a correction, not a way to mint a fortune. */
export const ADJUSTMENT_ABS_MAX = 100_000;
/** An adjustment's reason, in code points: one line a household reads in its statement. */
export const ADJUSTMENT_REASON_MAX = 500;
/** Household members per household: real households have 1–12. */
export const MEMBERS_MAX = 30;

/** A head's or member's name, in code points. */
export const PERSON_NAME_MAX = 32;

export const memberSchema = obj({ name: name(PERSON_NAME_MAX) });

export const createHouseholdBody = obj({
  villageId: id(),
  head: name(PERSON_NAME_MAX),
  members: z.array(memberSchema).max(MEMBERS_MAX).optional(),
  cardNo: z.string().regex(CARD_NO_RE, '4–32 letters, digits or -'),
});

export const householdSchema = z
  .object({
    id: z.string(),
    villageId: z.string(),
    head: z.string(),
    members: z.array(z.object({ name: z.string() })),
    cardNo: z.string(),
    createdAt: z.string(),
  })
  .openapi('Household');

export const listHouseholdsQuery = obj({
  villageId: id().optional(),
  /** Search: a card number (whole, case-insensitive) or part of the head's or a member's name. */
  q: line(32).optional(),
  after: id().optional(),
  limit: queryInt(1, 500).optional(),
});

/** The ledger's answers, declared beside the ledger; re-exported for the household routes. */
export { accountSchema, entrySchema } from '../ledger/ledger.schemas';

export const entriesQuery = obj({
  after: queryInt(0, 1_000_000_000).optional(),
  limit: queryInt(1, 500).optional(),
});

export const adjustmentBody = obj({
  points: points()
    .refine((n) => n !== 0, 'must not be zero')
    .refine(
      (n) => Math.abs(n) <= ADJUSTMENT_ABS_MAX,
      `must be between -${ADJUSTMENT_ABS_MAX} and ${ADJUSTMENT_ABS_MAX}`,
    ),
  reason: line(ADJUSTMENT_REASON_MAX),
});

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, '1–128 visible ASCII characters')
    .optional(),
});

export const idParams = obj({ id: id() });
