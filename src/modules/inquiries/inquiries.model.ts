/**
 * Credit look-ups (查询记录) of a household: who at which cooperative looked, when, why, and
 * with what result. Append-only; refused look-ups are recorded too.
 */
import mongoose, { Schema } from 'mongoose';

export interface InquiryDoc {
  _id: mongoose.Types.ObjectId;
  householdId: string;
  officerId: string;
  cooperativeId: string;
  purpose: string;
  /** `ok`, or the error code the officer got (consent_required, not_found, rate_limited, …), or `exported`. */
  result: string;
  at: Date;
}

const inquirySchema = new Schema<InquiryDoc>(
  {
    householdId: { type: String, required: true },
    officerId: { type: String, required: true },
    cooperativeId: { type: String, required: true },
    purpose: { type: String, required: true },
    result: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'credit_inquiries', versionKey: false, strict: 'throw' },
);
// A household lists its look-ups newest first.
inquirySchema.index({ householdId: 1, at: -1 }, { name: 'household_at' });

export const Inquiry = mongoose.model<InquiryDoc>('CreditInquiry', inquirySchema);
