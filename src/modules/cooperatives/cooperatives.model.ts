/** Rural credit cooperatives (农村信用社 / 农商行) and the villages they serve. */
import mongoose, { Schema } from 'mongoose';
import { invalidatesConfig } from '../../platform/config-cache';

export interface CooperativeDoc {
  _id: mongoose.Types.ObjectId;
  name: string;
  villageIds: string[];
  createdAt: Date;
}

const cooperativeSchema = new Schema<CooperativeDoc>(
  { name: { type: String, required: true }, villageIds: { type: [String], required: true } },
  {
    collection: 'cooperatives',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
// The officer's look-up reads the service area on every call, through the configuration cache.
invalidatesConfig(cooperativeSchema);
export const Cooperative = mongoose.model<CooperativeDoc>('Cooperative', cooperativeSchema);
