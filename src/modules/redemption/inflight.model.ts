/**
 * Storage of the work under way (redemption.model.ts lists every collection): the in-flight
 * markers, in batches (inserts.ts) and in the one-document form written before batches, and the
 * leases through which each process vouches for its live requests (liveness.ts).
 */
import mongoose, { Schema } from 'mongoose';

export interface InflightDoc {
  /** The redemption id. */
  _id: string;
  /** The claim's `_id`. */
  keyId: string;
  /** The process whose request wrote it (liveness.ts); absent on markers written before owners. */
  owner?: string;
  createdAt: Date;
}

const inflightSchema = new Schema<InflightDoc>(
  {
    _id: { type: String, required: true },
    keyId: { type: String, required: true },
    owner: String,
    createdAt: { type: Date, required: true },
  },
  { collection: 'redemption_inflight', versionKey: false, strict: 'throw' },
);
export const Inflight = mongoose.model<InflightDoc>('RedemptionInflight', inflightSchema);

/** The in-flight markers of one process's requests that claimed in the same turn. */
export interface InflightBatchDoc {
  _id: string;
  /** The process whose requests wrote them (liveness.ts). */
  owner: string;
  /** When the oldest of them was handed in. */
  createdAt: Date;
  markers: { redemptionId: string; keyId: string }[];
}

const inflightBatchSchema = new Schema<InflightBatchDoc>(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true },
    createdAt: { type: Date, required: true },
    markers: {
      type: [
        new Schema(
          {
            redemptionId: { type: String, required: true },
            keyId: { type: String, required: true },
          },
          { _id: false, strict: 'throw' },
        ),
      ],
      required: true,
    },
  },
  { collection: 'redemption_inflight_batches', versionKey: false, strict: 'throw' },
);
export const InflightBatch = mongoose.model<InflightBatchDoc>(
  'RedemptionInflightBatch',
  inflightBatchSchema,
);

export interface RedemptionLeaseDoc {
  /** The owner: one process (liveness.ts). */
  _id: string;
  /** When the snapshot of `redemptionIds` was taken. */
  renewedAt: Date;
  /** The redemptions whose requests the process was working on then. */
  redemptionIds: string[];
}

const leaseSchema = new Schema<RedemptionLeaseDoc>(
  {
    _id: { type: String, required: true },
    renewedAt: { type: Date, required: true },
    redemptionIds: { type: [String], required: true },
  },
  { collection: 'redemption_leases', versionKey: false, strict: 'throw' },
);
/** Renewed in place: a lease is a heartbeat, not a record of anything that happened. */
export const RedemptionLease = mongoose.model<RedemptionLeaseDoc>('RedemptionLease', leaseSchema);
