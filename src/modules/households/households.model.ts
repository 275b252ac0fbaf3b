/**
 * Households (农户), the account holders of the ledger. `cardNo` (the 文明实践积分卡 number) is
 * unique: it is how a supermarket terminal finds the household, and it makes roster imports
 * idempotent (importing the same file twice creates nothing new).
 */
import mongoose, { Schema } from 'mongoose';
import { invalidatesConfig } from '../../platform/config-cache';
import { markModel } from '../../platform/db';

export interface HouseholdDoc {
  _id: mongoose.Types.ObjectId;
  villageId: string;
  head: string;
  members: { name: string }[];
  cardNo: string;
  createdAt: Date;
}

const householdSchema = new Schema<HouseholdDoc>(
  {
    villageId: { type: String, required: true },
    head: { type: String, required: true },
    members: { type: [{ _id: false, name: { type: String, required: true } }], default: [] },
    cardNo: { type: String, required: true },
  },
  {
    collection: 'households',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
householdSchema.index({ cardNo: 1 }, { unique: true, name: 'cardNo_unique' });
// Village rosters and whole-village exports list a village's households in id order.
householdSchema.index({ villageId: 1, _id: 1 }, { name: 'village_id' });

// Cached configuration (platform/config-cache.ts): every write makes every process re-read it.
invalidatesConfig(householdSchema);
export const Household = mongoose.model<HouseholdDoc>('Household', householdSchema);

/**
 * Card number → household (`_id` = cardNo), written when a household is registered, so a
 * supermarket terminal finds the household behind a card by `_id` alone: on FerretDB a filter on
 * `cardNo` reads every household (a city's first redemptions each scanned its households).
 */
export interface HouseholdCardDoc {
  _id: string;
  householdId: string;
}
export const HouseholdCard = mongoose.model<HouseholdCardDoc>(
  'HouseholdCard',
  new Schema<HouseholdCardDoc>(
    { _id: { type: String, required: true }, householdId: { type: String, required: true } },
    { collection: 'household_cards', versionKey: false, strict: 'throw' },
  ),
);

/** Marks of one-off passes over the households (`_id` names the pass; present once it finished). */
export const HouseholdMark = markModel('HouseholdMark', 'household_marks');
