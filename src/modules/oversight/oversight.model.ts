/**
 * The supervision team's records (监督运营).
 *
 * - `household_kinship`: `_id` = householdId. What the roster says of a household's relatives:
 *   its lineage or clan (宗族, e.g. 王氏) and households it is linked to (parents, married
 *   children, brothers who set up their own household). Optional roster data, kept by the
 *   village clerk, read only by the concentration report (人情分) and its readers.
 * - `oversight_flags`: a supervisor's flag on a sale (redemption) or a stock movement of a store
 *   serving their village, with the reason. It goes to the village's township station.
 * - `oversight_flag_resolutions`: `_id` = flagId: the township's resolution, once (an insert the
 *   primary key arbitrates); the flag itself is never edited.
 */
import mongoose, { Schema } from 'mongoose';

export interface KinshipDoc {
  _id: string;
  villageId: string;
  lineage?: string;
  relatedHouseholdIds: string[];
  updatedBy: string;
  updatedAt: Date;
}

const kinshipSchema = new Schema<KinshipDoc>(
  {
    _id: { type: String, required: true },
    villageId: { type: String, required: true },
    lineage: String,
    relatedHouseholdIds: { type: [String], default: [] },
    updatedBy: { type: String, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'household_kinship', versionKey: false, strict: 'throw' },
);
// The concentration report reads a village's kinship (a scan on FerretDB-SQLite; a report).
kinshipSchema.index({ villageId: 1 }, { name: 'village' });
export const HouseholdKinship = mongoose.model<KinshipDoc>('HouseholdKinship', kinshipSchema);

export const FLAG_TARGETS = ['redemption', 'stock_movement'] as const;
export type FlagTarget = (typeof FLAG_TARGETS)[number];

export interface OversightFlagDoc {
  _id: mongoose.Types.ObjectId;
  villageId: string;
  townshipId?: string;
  targetType: FlagTarget;
  storeId: string;
  redemptionId?: string;
  sku?: string;
  seq?: number;
  reason: string;
  by: string;
  createdAt: Date;
}

const flagSchema = new Schema<OversightFlagDoc>(
  {
    villageId: { type: String, required: true },
    townshipId: String,
    targetType: { type: String, required: true, enum: FLAG_TARGETS },
    storeId: { type: String, required: true },
    redemptionId: String,
    sku: String,
    seq: Number,
    reason: { type: String, required: true },
    by: { type: String, required: true },
  },
  {
    collection: 'oversight_flags',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
// The township station's list of its villages' flags, newest first.
flagSchema.index({ townshipId: 1, _id: -1 }, { name: 'township_id' });
flagSchema.index({ villageId: 1, _id: -1 }, { name: 'village_id' });
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
  flagSchema.pre(op, () => {
    throw new Error('oversight flags are never edited');
  });
}
export const OversightFlag = mongoose.model<OversightFlagDoc>('OversightFlag', flagSchema);

export interface FlagResolutionDoc {
  _id: string;
  note: string;
  by: string;
  byRole: string;
  at: Date;
}

const resolutionSchema = new Schema<FlagResolutionDoc>(
  {
    _id: { type: String, required: true },
    note: { type: String, required: true },
    by: { type: String, required: true },
    byRole: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'oversight_flag_resolutions', versionKey: false, strict: 'throw' },
);
export const OversightFlagResolution = mongoose.model<FlagResolutionDoc>(
  'OversightFlagResolution',
  resolutionSchema,
);
