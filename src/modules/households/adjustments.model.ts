/**
 * Adjustment requests made with an `Idempotency-Key`: the record that gives a retried
 * correction the same ledger source, so it posts once.
 *
 * Why a record and not the key itself: an entry's `sourceId` is part of its hash, so it is
 * shown to the household for ever. It must not carry the admin's user id or the caller's raw
 * key; it carries `adjustmentId`, a fresh opaque id, and this record (never shown to
 * households) remembers which request it stands for.
 *
 * Invariants:
 * - A1 `_id` = `<householdId>:<actorId>:<key>`: a key names one request by one admin to one
 *   household, and the unique `_id` lets exactly one `adjustmentId` exist for it; a retry reads
 *   the first record and posts (or finds) the entry under the same source.
 * - A2 records are never updated or deleted.
 */
import mongoose, { Schema } from 'mongoose';

export interface AdjustmentRequestDoc {
  _id: string;
  /** The opaque id the ledger entry carries as its `sourceId` (24 hex digits). */
  adjustmentId: string;
  householdId: string;
  actorId: string;
  key: string;
  points: number;
  reason: string;
  createdAt: Date;
}

const adjustmentRequestSchema = new Schema<AdjustmentRequestDoc>(
  {
    _id: { type: String, required: true },
    adjustmentId: { type: String, required: true },
    householdId: { type: String, required: true },
    actorId: { type: String, required: true },
    key: { type: String, required: true },
    points: { type: Number, required: true },
    reason: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'adjustment_requests', versionKey: false, strict: 'throw' },
);

const refuse = function (): never {
  throw new Error('adjustment requests are append-only: update and delete are not allowed');
};
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
  adjustmentRequestSchema.pre(op, refuse);
}

export const AdjustmentRequest = mongoose.model<AdjustmentRequestDoc>(
  'AdjustmentRequest',
  adjustmentRequestSchema,
);
