/**
 * Volunteers (志愿者) and their hours.
 *
 * - `volunteers`: a person registered by real name; the ID number only as a keyed hash
 *   (`idHash`, unique: one registration per person) and a masked form (id-number.ts). A member
 *   of a household (`householdId`, whose village is `villageId`) or from outside the village
 *   (a teacher, a doctor), then belonging to a village, a township or the county.
 * - `volunteer_hours`: each volunteer's hours record (志愿服务时长), an append-only chain per
 *   volunteer (platform/append-chain.ts: `_id` = `<volunteerId>#<seq>`), one link per rated
 *   service order (source `service-order`:`<orderId>:<volunteerId>`, unique: an order's hours
 *   count once however often the order is reconciled). Each link carries the running total and
 *   the SHA-256 of its content and of the link before it, like the ledger.
 * - `volunteer_milestones`: `_id` = `<volunteerId>:<hours>`: 100, 300 and 1,000 hours are each
 *   reached once, and commended once (the commendation is a keyed submission, filed before this
 *   record is written, so a crash in between files nothing twice).
 */
import mongoose, { Schema } from 'mongoose';
import { chainIndexes, chainLinkFields, type ChainLink } from '../../platform/append-chain';

export interface VolunteerDoc {
  _id: mongoose.Types.ObjectId;
  name: string;
  idHash: string;
  idNumberMasked: string;
  householdId?: string;
  villageId?: string;
  townshipId?: string;
  countyId?: string;
  phone?: string;
  createdBy: string;
  createdAt: Date;
}

const volunteerSchema = new Schema<VolunteerDoc>(
  {
    name: { type: String, required: true },
    idHash: { type: String, required: true },
    idNumberMasked: { type: String, required: true },
    householdId: String,
    villageId: String,
    townshipId: String,
    countyId: String,
    phone: String,
    createdBy: { type: String, required: true },
  },
  {
    collection: 'volunteers',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
// One registration per person: the lock is the keyed hash of the ID number.
volunteerSchema.index({ idHash: 1 }, { unique: true, name: 'idHash_unique' });
// A village's or township's register (a scan on FerretDB-SQLite).
volunteerSchema.index({ villageId: 1, _id: 1 }, { name: 'village_id' });
volunteerSchema.index({ townshipId: 1, _id: 1 }, { name: 'township_id' });
export const Volunteer = mongoose.model<VolunteerDoc>('Volunteer', volunteerSchema);

export interface HoursLinkDoc extends ChainLink {
  /** chain = the volunteer id. */
  orderId: string;
  hours: number;
  /** The day of service (YYYY-MM-DD). */
  date: string;
  totalAfter: number;
  prevHash: string;
  hash: string;
}

const hoursSchema = new Schema<HoursLinkDoc>(
  {
    ...chainLinkFields,
    orderId: { type: String, required: true },
    hours: { type: Number, required: true },
    date: { type: String, required: true },
    totalAfter: { type: Number, required: true },
    prevHash: { type: String, required: true },
    hash: { type: String, required: true },
  },
  { collection: 'volunteer_hours', versionKey: false, strict: 'throw' },
);
chainIndexes(hoursSchema);
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
  hoursSchema.pre(op, () => {
    throw new Error('volunteer hours are append-only');
  });
}
export const VolunteerHours = mongoose.model<HoursLinkDoc>('VolunteerHours', hoursSchema);

export interface MilestoneDoc {
  /** `<volunteerId>:<hours>` */
  _id: string;
  volunteerId: string;
  hours: number;
  /** The order whose hours reached it. */
  orderId: string;
  reachedAt: Date;
  /** The commendation filed for the council (absent when none could be: see `skipped`). */
  submissionId?: string;
  skipped?: string;
}

const milestoneSchema = new Schema<MilestoneDoc>(
  {
    _id: { type: String, required: true },
    volunteerId: { type: String, required: true },
    hours: { type: Number, required: true },
    orderId: { type: String, required: true },
    reachedAt: { type: Date, required: true },
    submissionId: String,
    skipped: String,
  },
  { collection: 'volunteer_milestones', versionKey: false, strict: 'throw' },
);
export const VolunteerMilestone = mongoose.model<MilestoneDoc>(
  'VolunteerMilestone',
  milestoneSchema,
);
