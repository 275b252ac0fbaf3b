/**
 * Submissions (an award or deduction on its way through the council), their events, and the
 * wake-ups that make sure nothing waits forever.
 *
 * - `submissions`: what was filed (immutable: village, lines, rule version, points, evidence)
 *   plus a cache of the state derived from the events (status, round, noticeEndsAt, postedAt,
 *   appealStatus) for lists and boards. The cache is written after the events and repaired
 *   from them on every read and reconcile; the events always win.
 * - `submission_events`: append-only history. `_id` = `<submissionId>:<slot>`: every decision point
 *   (a member's vote in a round, the round's decision, the close of its notice, the posting,
 *   the appeal and its decision) has one slot, and the insert that fills it first wins. This is
 *   how racing votes, an objection against the posting job, or two appeal decisions are
 *   arbitrated without transactions or conditional updates. Keying the slot by `_id` also lets
 *   the hot paths (ending a notice, posting) read exactly the slots they need by primary key,
 *   which every backend serves from its primary index (FerretDB's SQLite backend pushes no
 *   other filter down to SQL).
 * - `submission_wakeups`: durable "look at this submission at `at`" records. One per notice
 *   (`notice-<id>-r<round>`, written before the notice starts) so a notice ends even if Redis
 *   lost the delayed job; and a short-lived guard per request (`guard-<random>`) so a request that
 *   crashed halfway is finished by the sweeper. Each is deleted only once its work is done.
 */
import mongoose, { Schema } from 'mongoose';
import { RULE_KINDS, type RuleKind } from '../rules/rule-kinds';
import {
  EVENT_TYPES,
  SUBMISSION_STATUSES,
  type EventType,
  type PostedEntryRef,
  type SubmissionStatus,
} from './submission-state';

export interface SubmissionLine {
  householdId: string;
  /** Units for a rate rule (hours); absent for a fixed rule. */
  quantity?: number;
  /** What the rule gives before caps (a magnitude). */
  requestedPoints: number;
  /** What will post (a magnitude), after caps. */
  points: number;
  capLimitedBy?: 'month' | 'year';
  cap?: number;
}

export interface SubmissionDoc {
  _id: mongoose.Types.ObjectId;
  villageId: string;
  batch: boolean;
  householdIds: string[];
  lines: SubmissionLine[];
  ruleCode: string;
  ruleVersion: number;
  overrideVersion?: number;
  ruleTitle: string;
  kind: RuleKind;
  occurredOn: string;
  evidence: { text: string; attachments: string[] };
  /** Whether the rule had caps when filed (a rejection must then give the claims back). */
  capsApply: boolean;
  createdBy: string;
  createdAt: Date;
  // The cache, derived from the events:
  status: SubmissionStatus;
  round: number;
  approvals: number;
  rejections: number;
  noticeEndsAt?: Date;
  postedAt?: Date;
  appealStatus?: 'pending' | 'upheld' | 'dismissed';
  /** Filed by the service-order loop: the rated order whose hours this turns into points. */
  serviceOrderId?: string;
  /** Filed for a volunteer (hours of a service order, or a milestone commendation). */
  volunteerId?: string;
  /** A commendation for reaching this many volunteer hours. */
  milestoneHours?: number;
}

const lineSchema = new Schema<SubmissionLine>(
  {
    householdId: { type: String, required: true },
    quantity: Number,
    requestedPoints: { type: Number, required: true },
    points: { type: Number, required: true },
    capLimitedBy: { type: String, enum: ['month', 'year'] },
    cap: Number,
  },
  { _id: false },
);

const submissionSchema = new Schema<SubmissionDoc>(
  {
    villageId: { type: String, required: true },
    batch: { type: Boolean, required: true },
    householdIds: { type: [String], required: true },
    lines: { type: [lineSchema], required: true },
    ruleCode: { type: String, required: true },
    ruleVersion: { type: Number, required: true },
    overrideVersion: Number,
    ruleTitle: { type: String, required: true },
    kind: { type: String, required: true, enum: RULE_KINDS },
    occurredOn: { type: String, required: true },
    evidence: {
      text: { type: String, required: true },
      attachments: { type: [String], default: [] },
    },
    capsApply: { type: Boolean, required: true },
    createdBy: { type: String, required: true },
    status: { type: String, required: true, enum: SUBMISSION_STATUSES },
    round: { type: Number, required: true },
    approvals: { type: Number, required: true, default: 0 },
    rejections: { type: Number, required: true, default: 0 },
    noticeEndsAt: Date,
    postedAt: Date,
    appealStatus: { type: String, enum: ['pending', 'upheld', 'dismissed'] },
    serviceOrderId: String,
    volunteerId: String,
    milestoneHours: Number,
  },
  {
    collection: 'submissions',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
// Council pages list a village's submissions by status, newest first.
submissionSchema.index({ villageId: 1, status: 1, _id: -1 }, { name: 'village_status_id' });
submissionSchema.index({ villageId: 1, _id: -1 }, { name: 'village_id' });
// Boards read a village's postings of a month.
submissionSchema.index({ villageId: 1, postedAt: 1 }, { name: 'village_postedAt' });
// The township's queue of open appeals.
submissionSchema.index({ appealStatus: 1, _id: 1 }, { name: 'appealStatus_id' });

export const Submission = mongoose.model<SubmissionDoc>('Submission', submissionSchema);

export interface SubmissionEventDoc {
  /** `<submissionId>:<slot>`: the slot's lock is the primary key itself. */
  _id: string;
  submissionId: string;
  slot: string;
  type: EventType;
  round?: number;
  by?: string;
  byRole?: string;
  decision?: 'approve' | 'reject';
  comment?: string;
  /** An appeal decision's explanation to the household (shown to it, and in its notification). */
  note?: string;
  reason?: string;
  noticeEndsAt?: Date;
  entries?: PostedEntryRef[];
  at: Date;
}

const entryRefSchema = new Schema<PostedEntryRef>(
  {
    householdId: { type: String, required: true },
    seq: { type: Number, required: true },
    points: { type: Number, required: true },
    spendableDelta: { type: Number, required: true },
    meritDelta: { type: Number, required: true },
  },
  { _id: false },
);

const eventSchema = new Schema<SubmissionEventDoc>(
  {
    _id: { type: String, required: true },
    submissionId: { type: String, required: true },
    slot: { type: String, required: true },
    type: { type: String, required: true, enum: EVENT_TYPES },
    round: Number,
    by: String,
    byRole: String,
    decision: { type: String, enum: ['approve', 'reject'] },
    comment: String,
    note: String,
    reason: String,
    noticeEndsAt: Date,
    entries: { type: [entryRefSchema], default: undefined },
    at: { type: Date, required: true },
  },
  { collection: 'submission_events', versionKey: false, strict: 'throw' },
);
// The history of one submission, in order. (Uniqueness of a slot is the `_id` itself.)
eventSchema.index({ submissionId: 1, at: 1 }, { name: 'submission_at' });
for (const op of [
  'updateOne',
  'updateMany',
  'findOneAndUpdate',
  'replaceOne',
  'findOneAndReplace',
  'deleteOne',
  'deleteMany',
  'findOneAndDelete',
] as const) {
  eventSchema.pre(op, () => {
    throw new Error('submission events are append-only');
  });
}

export const SubmissionEvent = mongoose.model<SubmissionEventDoc>('SubmissionEvent', eventSchema);

export interface WakeupDoc {
  _id: string;
  submissionId: string;
  kind: 'notice' | 'guard';
  round?: number;
  at: Date;
  /** Failed reconciles of this wake-up in a row (for backoff and the admin's attention). */
  failures: number;
}

const wakeupSchema = new Schema<WakeupDoc>(
  {
    _id: { type: String, required: true },
    submissionId: { type: String, required: true },
    kind: { type: String, required: true, enum: ['notice', 'guard'] },
    round: Number,
    at: { type: Date, required: true },
    failures: { type: Number, required: true, default: 0 },
  },
  { collection: 'submission_wakeups', versionKey: false, strict: 'throw' },
);
// The sweeper reads due wake-ups in order.
wakeupSchema.index({ at: 1 }, { name: 'at' });

export const Wakeup = mongoose.model<WakeupDoc>('SubmissionWakeup', wakeupSchema);

/**
 * `submission_filing_keys`: one per filing the system makes on its own (hours of a rated service
 * order, a volunteer's milestone commendation). `_id` is the filing's key (e.g.
 * `service-order:<orderId>:<volunteerId>`) and names the submission id chosen by the first
 * attempt, so a retried or concurrent filing finds the same submission and files it at most once.
 */
export interface FilingKeyDoc {
  _id: string;
  submissionId: string;
  createdAt: Date;
}

const filingKeySchema = new Schema<FilingKeyDoc>(
  {
    _id: { type: String, required: true },
    submissionId: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'submission_filing_keys', versionKey: false, strict: 'throw' },
);
for (const op of [
  'updateOne',
  'updateMany',
  'findOneAndUpdate',
  'replaceOne',
  'findOneAndReplace',
  'deleteOne',
  'deleteMany',
  'findOneAndDelete',
] as const) {
  filingKeySchema.pre(op, () => {
    throw new Error('submission filing keys are append-only');
  });
}
export const SubmissionFilingKey = mongoose.model<FilingKeyDoc>(
  'SubmissionFilingKey',
  filingKeySchema,
);
