/**
 * The notifications outbox. Three collections, each with the index that makes it safe:
 *
 * - `notifications`: one message to a household. Unique `key` (derived from what the message is
 *   about, e.g. `posted-<submissionId>-<householdId>`), so the code that decides to notify can
 *   run again after a crash and never queues a message twice. `state`, `attempts` and
 *   `nextAttemptAt` are a cache for the dispatcher's query; the two collections below are
 *   the truth.
 * - `notification_attempts`: `_id` = `<notificationId>-<n>`. A dispatcher claims attempt n by
 *   inserting it before handing the message to the sender; two dispatchers cannot both claim
 *   the same attempt, so no message is handed over twice at once.
 * - `notification_deliveries`: `_id` = notificationId, inserted after the sender accepted the
 *   message. Its existence means "sent"; nothing sends a message that has one.
 */
import mongoose, { Schema } from 'mongoose';
import { markModel } from '../../platform/db';

export const NOTIFICATION_KINDS = [
  'deduction_filed',
  'posted',
  'appeal_outcome',
  'service_order_reminder',
  'service_order_escalated',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export const NOTIFICATION_STATES = ['pending', 'sent', 'dead'] as const;
export type NotificationState = (typeof NOTIFICATION_STATES)[number];

export interface NotificationDoc {
  _id: mongoose.Types.ObjectId;
  key: string;
  householdId: string;
  villageId: string;
  submissionId?: string;
  kind: NotificationKind;
  title: string;
  body: string;
  state: NotificationState;
  attempts: number;
  nextAttemptAt: Date;
  sentAt?: Date;
  lastError?: string;
  createdAt: Date;
}

const notificationSchema = new Schema<NotificationDoc>(
  {
    key: { type: String, required: true },
    householdId: { type: String, required: true },
    villageId: { type: String, required: true },
    submissionId: String,
    kind: { type: String, required: true, enum: NOTIFICATION_KINDS },
    title: { type: String, required: true },
    body: { type: String, required: true },
    state: { type: String, required: true, enum: NOTIFICATION_STATES },
    attempts: { type: Number, required: true },
    nextAttemptAt: { type: Date, required: true },
    sentAt: Date,
    lastError: String,
  },
  {
    collection: 'notifications',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
notificationSchema.index({ key: 1 }, { unique: true, name: 'key_unique' });
// The dispatcher reads due pending messages in order.
notificationSchema.index({ state: 1, nextAttemptAt: 1 }, { name: 'state_nextAttemptAt' });
// A household reads its messages newest first.
notificationSchema.index({ householdId: 1, _id: -1 }, { name: 'household_id' });

export const Notification = mongoose.model<NotificationDoc>('Notification', notificationSchema);

export interface NotificationAttemptDoc {
  _id: string;
  notificationId: string;
  n: number;
  claimedAt: Date;
  outcome?: 'sent' | 'failed';
  error?: string;
  finishedAt?: Date;
}

const attemptSchema = new Schema<NotificationAttemptDoc>(
  {
    _id: { type: String, required: true },
    notificationId: { type: String, required: true },
    n: { type: Number, required: true },
    claimedAt: { type: Date, required: true },
    outcome: { type: String, enum: ['sent', 'failed'] },
    error: String,
    finishedAt: Date,
  },
  { collection: 'notification_attempts', versionKey: false, strict: 'throw' },
);
attemptSchema.index({ notificationId: 1, n: -1 }, { name: 'notification_n' });

export const NotificationAttempt = mongoose.model<NotificationAttemptDoc>(
  'NotificationAttempt',
  attemptSchema,
);

export interface NotificationDeliveryDoc {
  _id: string;
  attempt: number;
  sender: string;
  ref?: string;
  sentAt: Date;
}

const deliverySchema = new Schema<NotificationDeliveryDoc>(
  {
    _id: { type: String, required: true },
    attempt: { type: Number, required: true },
    sender: { type: String, required: true },
    ref: String,
    sentAt: { type: Date, required: true },
  },
  { collection: 'notification_deliveries', versionKey: false, strict: 'throw' },
);

export const NotificationDelivery = mongoose.model<NotificationDeliveryDoc>(
  'NotificationDelivery',
  deliverySchema,
);

/**
 * `notifications_due`: the messages the dispatcher still has to look at, one entry per pending
 * (or dead) message, `_id` = the notification's id. The dispatcher reads this collection, not
 * `notifications`: `notifications` keeps every message ever queued (one per posted award or
 * deduction), and on FerretDB any filter but a lone `_id` reads the whole collection, so a
 * dispatcher that asked `notifications` for due messages every two seconds read the deployment's
 * whole history every two seconds. This one holds only what is in flight.
 *
 * An entry is written before its message (N3: a message never exists without one) and deleted
 * once its message is sent (or was never written); a dead message keeps its entry, flagged, so
 * that /metrics counts dead and pending messages from this small collection too.
 */
export interface NotificationDueDoc {
  _id: string;
  dueAt: Date;
  createdAt: Date;
  dead?: boolean;
}

const dueSchema = new Schema<NotificationDueDoc>(
  {
    _id: { type: String, required: true },
    dueAt: { type: Date, required: true },
    createdAt: { type: Date, required: true },
    dead: Boolean,
  },
  { collection: 'notifications_due', versionKey: false, strict: 'throw' },
);
dueSchema.index({ dueAt: 1 }, { name: 'dueAt' });

export const NotificationDue = mongoose.model<NotificationDueDoc>('NotificationDue', dueSchema);

/** One-off passes over `notifications`, marked once done (`_id` = the pass). */
export const NotificationMark = markModel('NotificationMark', 'notification_marks');
