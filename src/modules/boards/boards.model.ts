/**
 * Red and black lists (红黑榜) settings per village, and each household's consent to be named.
 * Both are preferences, one document each (`_id` = the village or household id), so a write is
 * a plain upsert: the last word counts and nothing else depends on an earlier one.
 */
import mongoose, { Schema } from 'mongoose';

export interface BoardSettingsDoc {
  _id: string;
  /** The black list can be switched off per village (PIPL art. 25: publishing conduct is personal information). */
  blackListEnabled: boolean;
  /** Days a deduction stays on the black list after its appeal window closed. */
  blackListRetentionDays: number;
  updatedBy: string;
  updatedAt: Date;
}

const settingsSchema = new Schema<BoardSettingsDoc>(
  {
    _id: { type: String, required: true },
    blackListEnabled: { type: Boolean, required: true },
    blackListRetentionDays: { type: Number, required: true },
    updatedBy: { type: String, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'board_settings', versionKey: false, strict: 'throw' },
);

export const BoardSettings = mongoose.model<BoardSettingsDoc>('BoardSettings', settingsSchema);

export interface BoardConsentDoc {
  _id: string;
  /** True: the household agreed to be named in full on the village boards. */
  named: boolean;
  /** The signed paper form, when a clerk recorded the consent. */
  formRef?: string;
  recordedBy: string;
  recordedAt: Date;
}

const consentSchema = new Schema<BoardConsentDoc>(
  {
    _id: { type: String, required: true },
    named: { type: Boolean, required: true },
    formRef: String,
    recordedBy: { type: String, required: true },
    recordedAt: { type: Date, required: true },
  },
  { collection: 'board_consents', versionKey: false, strict: 'throw' },
);

export const BoardConsent = mongoose.model<BoardConsentDoc>('BoardConsent', consentSchema);
