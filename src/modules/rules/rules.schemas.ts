import { isCalendarDate } from '../../platform/clock';
import { id, line, longText, name, obj, z } from '../../platform/validation';
import { RULE_KINDS } from './rules.model';

/** Largest points of one rule: the real catalogues give 1–100 points per deed. */
export const RULE_POINTS_MAX = 100_000;
/** A rule's title, in code points; it becomes part of the reason of every entry it posts. */
export const RULE_TITLE_MAX = 100;

export const RULE_CODE_RE = /^[A-Za-z0-9_-]{1,32}$/;
export const ruleCode = () => z.string().regex(RULE_CODE_RE, '1–32 letters, digits, - or _');
export const calendarDate = () =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
    .refine(isCalendarDate, 'must be a date YYYY-MM-DD');

const positivePoints = () => z.number().int().min(1).max(RULE_POINTS_MAX);

export const createRuleBody = obj({
  code: ruleCode(),
  title: line(RULE_TITLE_MAX),
  kind: z.enum(RULE_KINDS),
  /** Fixed points; for a deduction a negative number is read as its magnitude. */
  points: z
    .number()
    .int()
    .min(-RULE_POINTS_MAX)
    .max(RULE_POINTS_MAX)
    .refine((n) => n !== 0, 'must not be zero')
    .optional(),
  pointsPerUnit: positivePoints().optional(),
  unit: name(16).optional(),
  capPerMonth: positivePoints().optional(),
  capPerYear: positivePoints().optional(),
  attachmentRequired: z.boolean().optional(),
  retired: z.boolean().optional(),
  effectiveFrom: calendarDate().optional(),
  description: longText(1000).optional(),
});

export const ruleVersionSchema = z
  .object({
    id: z.string(),
    code: z.string(),
    version: z.number().int(),
    title: z.string(),
    kind: z.enum(RULE_KINDS),
    points: z.number().int().optional(),
    pointsPerUnit: z.number().int().optional(),
    unit: z.string().optional(),
    capPerMonth: z.number().int().optional(),
    capPerYear: z.number().int().optional(),
    attachmentRequired: z.boolean(),
    retired: z.boolean(),
    effectiveFrom: z.string(),
    description: z.string().optional(),
    createdAt: z.string(),
  })
  .openapi('RuleVersion');

/** A rule as it applies in a village on a date: the version's terms, and whether it is in force. */
export const effectiveRuleSchema = ruleVersionSchema
  .pick({
    code: true,
    version: true,
    title: true,
    kind: true,
    points: true,
    pointsPerUnit: true,
    unit: true,
    capPerMonth: true,
    capPerYear: true,
    attachmentRequired: true,
  })
  .extend({
    overrideVersion: z.number().int().optional(),
    /** False when the county retired it or the village switched it off on that date. */
    inForce: z.boolean(),
  })
  .openapi('EffectiveRule');

export const listRulesQuery = obj({ villageId: id().optional(), on: calendarDate().optional() });

export const codeParams = obj({ code: ruleCode() });

export const createOverrideBody = obj({
  villageId: id(),
  disabled: z.boolean().optional(),
  points: positivePoints().optional(),
  pointsPerUnit: positivePoints().optional(),
  effectiveFrom: calendarDate().optional(),
});

export const overrideSchema = z
  .object({
    id: z.string(),
    villageId: z.string(),
    code: z.string(),
    version: z.number().int(),
    disabled: z.boolean(),
    points: z.number().int().optional(),
    pointsPerUnit: z.number().int().optional(),
    effectiveFrom: z.string(),
    createdAt: z.string(),
  })
  .openapi('RuleOverride');

export const previewQuery = obj({
  villageId: id(),
  householdId: id(),
  occurredOn: calendarDate(),
  /** Units of a rate rule (e.g. hours), to the hundredth. */
  quantity: z
    .string()
    .regex(/^\d{1,5}(\.\d{1,2})?$/, 'a number with at most two decimals')
    .transform(Number)
    .optional(),
});

export const previewSchema = z
  .object({
    ruleCode: z.string(),
    ruleTitle: z.string(),
    kind: z.enum(RULE_KINDS),
    requestedPoints: z.number().int(),
    points: z.number().int(),
    capped: z
      .object({
        limitedBy: z.enum(['month', 'year']),
        cap: z.number().int(),
        usedBefore: z.number().int(),
      })
      .nullable(),
    attachmentRequired: z.boolean(),
    inForce: z.boolean(),
  })
  .openapi('PointsPreview');
