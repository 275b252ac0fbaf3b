import { durationMs } from '../../platform/clock';
import { id, name, obj, z } from '../../platform/validation';

/** ISO-8601 durations of days, hours, minutes and seconds (PnDTnHnMnS); months are ambiguous. */
export const ISO_DURATION_RE = /^P(?!$)(\d{1,4}D)?(T(?=\d)(\d{1,5}H)?(\d{1,6}M)?(\d{1,7}S)?)?$/;

/** Highest daily redemption limit a village may set (points per household per store per day). */
export const REDEMPTION_DAILY_LIMIT_MAX = 1_000_000;
const redemptionDailyLimit = () => z.number().int().min(1).max(REDEMPTION_DAILY_LIMIT_MAX);

/** Longest backdating window a village may set: ten years of deeds. */
export const OCCURRED_ON_WINDOW_DAYS_MAX = 3660;
const occurredOnWindowDays = () =>
  z.number().int().min(0).max(OCCURRED_ON_WINDOW_DAYS_MAX).openapi({
    description:
      "How many days back a deed's occurredOn may lie (Asia/Shanghai days; default 90); never in the future",
  });
/** The service-order and oversight settings of a village policy (all optional, with defaults). */
const orderPolicyFields = {
  /** Time a service order may wait for a team to accept it before it escalates to the township. */
  orderTimeout: z
    .string()
    .regex(ISO_DURATION_RE, 'must be an ISO-8601 duration such as PT48H')
    .refine((s) => !ISO_DURATION_RE.test(s) || durationMs(s) > 0, 'must be longer than zero'),
  /** Hours of a rated service order go straight to public notice, without a council vote. */
  ratedHoursNeedNoVote: z.boolean(),
  /** The rule (积分细则 code) that turns volunteer hours into points. */
  hoursRuleCode: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, '1–32 letters, digits, - or _'),
  /** Share (0.3–1) of a council member's approvals on one group of households that raises a 人情分 flag. */
  concentrationThreshold: z.number().min(0.3).max(1),
  /** Approvals a member needs in the period before the concentration flag applies. */
  concentrationMinApprovals: z.number().int().min(1).max(1000),
};

const villagePolicy = obj({
  /** Council approvals a submission needs. */
  quorum: z.number().int().min(1).max(50),
  /** ISO-8601 duration of the public notice (公示), e.g. P7D. */
  noticePeriod: z
    .string()
    .regex(ISO_DURATION_RE, 'must be an ISO-8601 duration such as P7D or PT0S'),
  /**
   * Most points a household may redeem per store per calendar day (Asia/Shanghai), so a lost
   * card cannot be drained. Absent: no limit.
   */
  redemptionDailyLimit: redemptionDailyLimit().optional(),
  /** Absent: DEFAULT_OCCURRED_ON_WINDOW_DAYS. */
  occurredOnWindowDays: occurredOnWindowDays().optional(),
  orderTimeout: orderPolicyFields.orderTimeout.optional(),
  ratedHoursNeedNoVote: orderPolicyFields.ratedHoursNeedNoVote.optional(),
  hoursRuleCode: orderPolicyFields.hoursRuleCode.optional(),
  concentrationThreshold: orderPolicyFields.concentrationThreshold.optional(),
  concentrationMinApprovals: orderPolicyFields.concentrationMinApprovals.optional(),
});
export const villagePolicySchema = villagePolicy.openapi('VillagePolicy');

export const createVillageBody = obj({
  name: name(64),
  code: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, - and _ only'),
  township: name(64),
  county: name(64),
  policy: villagePolicySchema.optional(),
});

export const patchVillageBody = obj({
  policy: villagePolicy.partial().extend({
    /** null removes the limit. */
    redemptionDailyLimit: redemptionDailyLimit().nullable().optional(),
  }),
});

export const villageSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    code: z.string(),
    township: z.string(),
    county: z.string(),
    townshipId: z.string().optional(),
    countyId: z.string().optional(),
    policy: villagePolicySchema,
    createdAt: z.string(),
  })
  .openapi('Village');

export const idParams = obj({ id: id() });
