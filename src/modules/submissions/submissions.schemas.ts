import { id, line, longText, obj, queryInt, z } from '../../platform/validation';
import { calendarDate, ruleCode } from '../rules/rules.schemas';
import { BATCH_LINES_MAX } from './submissions.service';
import { EVENT_TYPES, SUBMISSION_STATUSES } from './submission-state';

/** Units of a rate rule (hours), to the hundredth; a day of volunteering is well under 24. */
export const QUANTITY_MAX = 10_000;
const quantity = () =>
  z.number().positive().max(QUANTITY_MAX).multipleOf(0.01, 'at most two decimals');

export const createSubmissionBody = obj({
  villageId: id(),
  householdId: id().optional(),
  /** A batch: one activity, many households, each with its own quantity. */
  households: z
    .array(obj({ householdId: id(), quantity: quantity().optional() }))
    .min(1)
    .max(BATCH_LINES_MAX)
    .optional(),
  ruleCode: ruleCode(),
  quantity: quantity().optional(),
  occurredOn: calendarDate(),
  evidence: obj({
    text: longText(2000),
    /** References to photos or documents (file ids or URLs). */
    attachments: z.array(line(500)).max(20).optional(),
  }),
});

export const voteBody = obj({
  decision: z.enum(['approve', 'reject']),
  comment: longText(500).optional(),
});
export const objectionBody = obj({ reason: longText(1000) });
export const appealBody = obj({ reason: longText(1000) });
export const appealDecisionBody = obj({
  outcome: z.enum(['upheld', 'dismissed']),
  /** The decider's remark for the file (staff). */
  comment: longText(1000).optional(),
  /** The explanation the household reads (on the submission and in its notification). */
  note: longText(500).optional(),
});

export const listSubmissionsQuery = obj({
  villageId: id().optional(),
  status: z.enum(SUBMISSION_STATUSES).optional(),
  householdId: id().optional(),
  before: id().optional(),
  limit: queryInt(1, 200).optional(),
});

export const listAppealsQuery = obj({
  status: z.enum(['pending', 'upheld', 'dismissed']).optional(),
  limit: queryInt(1, 500).optional(),
});

export const idParams = obj({ id: id() });

/** A ledger entry a submission (or its reversal) posted. */
export const entryRef = z.object({
  householdId: z.string(),
  seq: z.number().int(),
  points: z.number().int(),
  spendableDelta: z.number().int(),
  meritDelta: z.number().int(),
});

/** A household line of a submission, after caps. */
export const lineSchema = z.object({
  householdId: z.string(),
  quantity: z.number().optional(),
  points: z.number().int(),
  requestedPoints: z.number().int(),
  capped: z.object({ limitedBy: z.enum(['month', 'year']), cap: z.number().int() }).optional(),
});

/** How caps reduced a single submission's points. */
export const cappedSchema = z.object({
  requestedPoints: z.number().int(),
  points: z.number().int(),
  limitedBy: z.enum(['month', 'year']).optional(),
  cap: z.number().int().optional(),
  /** What a clerk reads, e.g. “已按本月上限（40分）核减为10分”. */
  message: z.string(),
});

export const appealSchema = z
  .object({
    id: z.string(),
    submissionId: z.string(),
    householdId: z.string(),
    status: z.enum(['pending', 'upheld', 'dismissed']),
    reason: z.string(),
    filedAt: z.string(),
    decidedAt: z.string().optional(),
    decidedBy: z.string().optional(),
    comment: z.string().optional(),
    /** The decision's explanation to the household. */
    note: z.string().optional(),
    reversalEntries: z.array(entryRef).optional(),
  })
  .openapi('Appeal');

/** One event of a submission's history (single reads). */
export const historyItemSchema = z.object({
  type: z.enum(EVENT_TYPES),
  at: z.string(),
  round: z.number().int().optional(),
  by: z.string().optional(),
  byRole: z.string().optional(),
  decision: z.enum(['approve', 'reject']).optional(),
  comment: z.string().optional(),
  reason: z.string().optional(),
  noticeEndsAt: z.string().optional(),
  /** What the event posted (posted, reversed). */
  entries: z.array(entryRef).optional(),
});

export const submissionSchema = z
  .object({
    id: z.string(),
    villageId: z.string(),
    batch: z.boolean(),
    householdId: z.string().nullable(),
    lines: z.array(lineSchema),
    ruleCode: z.string(),
    ruleVersion: z.number().int(),
    overrideVersion: z.number().int().optional(),
    ruleTitle: z.string(),
    kind: z.enum(['award', 'deduction']),
    quantity: z.number().optional(),
    occurredOn: z.string(),
    evidence: z.object({ text: z.string(), attachments: z.array(z.string()) }),
    points: z
      .number()
      .int()
      .openapi({ description: 'Signed: what posts (negative for a deduction), after caps' }),
    requestedPoints: z.number().int(),
    capped: cappedSchema.nullable(),
    status: z.enum(SUBMISSION_STATUSES),
    round: z.number().int(),
    /** Approvals the village needs (on single reads). */
    quorum: z.number().int().optional(),
    approvals: z.number().int(),
    rejections: z.number().int(),
    noticeEndsAt: z.string().nullable(),
    postedAt: z.string().nullable(),
    appealDeadline: z.string().optional(),
    entries: z.array(entryRef).optional(),
    appeal: appealSchema.nullable().optional(),
    createdBy: z.string(),
    createdAt: z.string(),
    history: z.array(historyItemSchema).optional(),
    /** Filed by the service-order loop from this rated order. */
    serviceOrderId: z.string().optional(),
    /** The volunteer whose hours or milestone this is. */
    volunteerId: z.string().optional(),
    milestoneHours: z.number().int().optional(),
  })
  .openapi('Submission');

export const objectionSchema = z
  .object({
    id: z.string(),
    submissionId: z.string(),
    round: z.number().int(),
    reason: z.string(),
    by: z.string(),
    createdAt: z.string(),
    submission: submissionSchema,
  })
  .openapi('Objection');
