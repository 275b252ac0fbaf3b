/**
 * Villages (村), the unit every clerk, council and household belongs to. `code` is unique:
 * the county's own village code, used by imports and exports.
 */
import mongoose, { Schema } from 'mongoose';

export interface VillagePolicy {
  /** Council approvals a submission needs. */
  quorum: number;
  /** ISO-8601 duration of the public notice (公示), e.g. P7D. */
  noticePeriod: string;
  /**
   * Most points a household may redeem per store per calendar day (Asia/Shanghai), so a lost
   * card cannot be drained. Absent: no limit.
   */
  redemptionDailyLimit?: number;
  /**
   * How many days back a deed's `occurredOn` may lie (Asia/Shanghai calendar days; 0: today
   * only). A deed is never in the future. Absent: DEFAULT_OCCURRED_ON_WINDOW_DAYS.
   */
  occurredOnWindowDays?: number;
}

export interface VillageDoc {
  _id: mongoose.Types.ObjectId;
  name: string;
  code: string;
  township: string;
  county: string;
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
    policy: {
      quorum: { type: Number, required: true, default: 3 },
      noticePeriod: { type: String, required: true, default: 'P7D' },
      redemptionDailyLimit: { type: Number },
      occurredOnWindowDays: { type: Number },
    },
  },
  { collection: 'villages', timestamps: true, versionKey: false, strict: 'throw' },
);
villageSchema.index({ code: 1 }, { unique: true, name: 'code_unique' });

export const Village = mongoose.model<VillageDoc>('Village', villageSchema);
