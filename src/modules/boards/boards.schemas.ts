import { obj, z } from '../../platform/validation';

export const boardRow = z.object({
  name: z.string(),
  /** True when the full name is shown (the household consented). */
  named: z.boolean(),
  points: z.number().int(),
  items: z.array(
    z.object({
      ruleTitle: z.string(),
      points: z.number().int(),
      occurredOn: z.string(),
      postedAt: z.string(),
    }),
  ),
});

/** A village's boards of a month (also what a station screen's board link reads). */
export const boardsSchema = z
  .object({
    villageId: z.string(),
    month: z.string(),
    red: z.array(boardRow),
    black: z.array(boardRow),
    blackListEnabled: z.boolean(),
    blackListRetentionDays: z.number().int(),
    /** The village's place in its county's stored monthly ranking (考评指数) of the month, if ranked. */
    ranking: z
      .object({
        period: z.string(),
        rank: z.number().int(),
        index: z.number(),
        of: z.number().int(),
        computedAt: z.string(),
      })
      .nullable(),
  })
  .openapi('Boards');

export const monthQuery = obj({
  month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM'),
});

export const settingsSchema = z
  .object({
    villageId: z.string(),
    blackListEnabled: z.boolean(),
    blackListRetentionDays: z.number().int(),
    updatedAt: z.string().nullable(),
  })
  .openapi('BoardSettings');

/** Whether a household may be named in full on the boards. */
export const consentSchema = z.object({
  householdId: z.string(),
  named: z.boolean(),
  formRef: z.string().optional(),
  recordedAt: z.string().nullable(),
});

export const linkSchema = z
  .object({
    id: z.string(),
    villageId: z.string(),
    label: z.string(),
    createdBy: z.string(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi('BoardLink');
