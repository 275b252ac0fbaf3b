/**
 * Villages (村 实践站), the unit every clerk, council and household belongs to. `code` is unique:
 * the county's own village code, used by imports and exports. `township` and `county` are the
 * names the village was created with; `townshipId` and `countyId` point at the level records
 * of those names (levels.model.ts), set at creation or by the levels migration for villages
 * created before levels existed.
 */
import mongoose, { Schema } from 'mongoose';
import { invalidatesConfig } from '../../platform/config-cache';
import type { z } from '../../platform/validation';
import type { villagePolicySchema } from './villages.schemas';

/**
 * A village's council policy, as its zod schema declares it (villages.schemas.ts): quorum,
 * notice period (公示), daily redemption limit, backdating window and service-order settings.
 */
export type VillagePolicy = z.infer<typeof villagePolicySchema>;

export interface VillageDoc {
  _id: mongoose.Types.ObjectId;
  name: string;
  code: string;
  township: string;
  county: string;
  /** The township station; absent only until the levels migration has run. */
  townshipId?: string;
  countyId?: string;
  policy: VillagePolicy;
  createdAt: Date;
  updatedAt: Date;
}

const villageSchema = new Schema<VillageDoc>(
  {
    name: { type: String, required: true },
    code: { type: String, required: true },
    township: { type: String, required: true },
    county: { type: String, required: true },
    townshipId: String,
    countyId: String,
    policy: {
      quorum: { type: Number, required: true, default: 3 },
      noticePeriod: { type: String, required: true, default: 'P7D' },
      redemptionDailyLimit: { type: Number },
      occurredOnWindowDays: { type: Number },
      orderTimeout: { type: String },
      ratedHoursNeedNoVote: { type: Boolean },
      hoursRuleCode: { type: String },
      concentrationThreshold: { type: Number },
      concentrationMinApprovals: { type: Number },
    },
  },
  { collection: 'villages', timestamps: true, versionKey: false, strict: 'throw' },
);
villageSchema.index({ code: 1 }, { unique: true, name: 'code_unique' });
// A county's villages, for the monthly rankings job (a scan on FerretDB-SQLite). A township's
// villages are read from its list (levels.model.ts), not from here.
villageSchema.index({ countyId: 1 }, { name: 'county' });

// Cached configuration (platform/config-cache.ts): every write makes every process re-read it.
invalidatesConfig(villageSchema);
export const Village = mongoose.model<VillageDoc>('Village', villageSchema);
