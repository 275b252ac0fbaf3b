/**
 * Storage of the credit reference. What is evidence is append-only; what is derived is a cache
 * that always equals a recomputation.
 *
 * - `credit_consents`: one document per consent given (never edited). For a household and a
 *   cooperative the latest consent given governs, so a retried POST or a renewal never leaves an
 *   older consent that a revocation would miss.
 * - `credit_consent_revocations`: `_id` = the consent's id. The unique `_id` makes revoking
 *   idempotent: a second DELETE finds the first revocation and changes nothing.
 * - `credit_consent_heads`: `_id` = `<householdId>|<cooperativeId>`, where that pair's chain of
 *   consents ends (consent-chain.ts). A hint, overwritten by each grant: a lagging or missing one
 *   only costs look-ups forward along the chain, never a wrong answer.
 * - `credit_village_levels`: a village's award level at the start of a month, `_id` =
 *   `<villageId>_<YYYY-MM>_<modelVersion>`. Computed once from entries that can no longer change
 *   (posted before that instant); two computing at once both insert the same value and one wins.
 * - `credit_scores`: the current-score cache, `_id` = householdId. Derived: each document is the
 *   answer a recomputation as of its `asOf` gives, and is overwritten, never trusted over the chain.
 * - `credit_exports`: the export job's record (status, progress, manifest). The job is its only
 *   writer after creation.
 */
import mongoose, { Schema } from 'mongoose';

/** Fields of a household a consent lets the cooperative receive (fixed by this model version). */
export const CONSENT_FIELDS = [
  'score',
  'grade',
  'reasons',
  'customerRef',
  'headNameMasked',
  'village',
] as const;

export interface ConsentDoc {
  _id: mongoose.Types.ObjectId;
  householdId: string;
  villageId: string;
  cooperativeId: string;
  /** The cooperative's name when consent was given (the recipient, as the receipt names it). */
  recipient: string;
  purpose: string;
  fields: string[];
  grantedAt: Date;
  expiresAt: Date;
  customerRef?: string;
  /** `household`: given by the household itself; `paper_form`: a clerk recorded a signed form. */
  method: 'household' | 'paper_form';
  formRef?: string;
  recordedBy: string;
}

const consentSchema = new Schema<ConsentDoc>(
  {
    householdId: { type: String, required: true },
    villageId: { type: String, required: true },
    cooperativeId: { type: String, required: true },
    recipient: { type: String, required: true },
    purpose: { type: String, required: true },
    fields: { type: [String], required: true },
    grantedAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    customerRef: { type: String },
    method: { type: String, required: true, enum: ['household', 'paper_form'] },
    formRef: { type: String },
    recordedBy: { type: String, required: true },
  },
  { collection: 'credit_consents', versionKey: false, strict: 'throw' },
);
// Views and the rare clock-behind case read one household's consents to one cooperative (the
// look-up itself goes by `_id` along the chain, consent-chain.ts); exports list a cooperative's.
consentSchema.index(
  { householdId: 1, cooperativeId: 1, grantedAt: 1 },
  { name: 'household_cooperative' },
);
consentSchema.index({ cooperativeId: 1, householdId: 1 }, { name: 'cooperative_household' });
consentSchema.pre(
  [
    'updateOne',
    'updateMany',
    'findOneAndUpdate',
    'replaceOne',
    'deleteOne',
    'deleteMany',
    'findOneAndDelete',
  ],
  () => {
    throw new Error('consents are append-only: a withdrawal is a revocation record');
  },
);
export const Consent = mongoose.model<ConsentDoc>('CreditConsent', consentSchema);

export interface ConsentRevocationDoc {
  /** The consent's id. */
  _id: string;
  /** Copied from the consent, so an export can stream a cooperative's revocations by household. */
  householdId: string;
  cooperativeId: string;
  revokedAt: Date;
  revokedBy: string;
  revokedByRole: string;
}

const revocationSchema = new Schema<ConsentRevocationDoc>(
  {
    _id: { type: String, required: true },
    householdId: { type: String, required: true },
    cooperativeId: { type: String, required: true },
    revokedAt: { type: Date, required: true },
    revokedBy: { type: String, required: true },
    revokedByRole: { type: String, required: true },
  },
  { collection: 'credit_consent_revocations', versionKey: false, strict: 'throw' },
);
revocationSchema.index({ cooperativeId: 1 }, { name: 'cooperative' });
export const ConsentRevocation = mongoose.model<ConsentRevocationDoc>(
  'CreditConsentRevocation',
  revocationSchema,
);

/** Where a household's chain of consents to one cooperative ends (consent-chain.ts). */
export interface ConsentHeadDoc {
  /** `<householdId>|<cooperativeId>` */
  _id: string;
  /** The chain position of `consentId` (0: a consent stored before chains, set by the migration). */
  seq: number;
  consentId: string;
  grantedAt: Date;
  expiresAt: Date;
  updatedAt: Date;
}

const consentHeadSchema = new Schema<ConsentHeadDoc>(
  {
    _id: { type: String, required: true },
    seq: { type: Number, required: true },
    consentId: { type: String, required: true },
    grantedAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'credit_consent_heads', versionKey: false, strict: 'throw' },
);
export const ConsentHead = mongoose.model<ConsentHeadDoc>('CreditConsentHead', consentHeadSchema);

export interface VillageLevelDoc {
  _id: string;
  villageId: string;
  levelAt: Date;
  modelVersion: string;
  /** Households registered at or before levelAt. */
  households: number;
  /** Award points their entries posted in the model's window before levelAt. */
  awardPoints: number;
  computedAt: Date;
}

const villageLevelSchema = new Schema<VillageLevelDoc>(
  {
    _id: { type: String, required: true },
    villageId: { type: String, required: true },
    levelAt: { type: Date, required: true },
    modelVersion: { type: String, required: true },
    households: { type: Number, required: true },
    awardPoints: { type: Number, required: true },
    computedAt: { type: Date, required: true },
  },
  { collection: 'credit_village_levels', versionKey: false, strict: 'throw' },
);
export const VillageLevelMemo = mongoose.model<VillageLevelDoc>(
  'CreditVillageLevel',
  villageLevelSchema,
);

export interface ScoreCacheDoc {
  /** householdId */
  _id: string;
  modelVersion: string;
  asOf: Date;
  /** Seq of the newest entry posted at or before asOf (0: none). */
  throughSeq: number;
  score: number;
  grade: string;
  reasons: { code: string; text: string; impact: number }[];
  computedAt: Date;
}

const scoreCacheSchema = new Schema<ScoreCacheDoc>(
  {
    _id: { type: String, required: true },
    modelVersion: { type: String, required: true },
    asOf: { type: Date, required: true },
    throughSeq: { type: Number, required: true },
    score: { type: Number, required: true },
    grade: { type: String, required: true },
    reasons: { type: [{ _id: false, code: String, text: String, impact: Number }], required: true },
    computedAt: { type: Date, required: true },
  },
  { collection: 'credit_scores', versionKey: false, strict: 'throw' },
);
export const ScoreCache = mongoose.model<ScoreCacheDoc>('CreditScoreCache', scoreCacheSchema);

/**
 * How far the score sweeper has read: a sweep reads entries posted since its last successful
 * sweep began (less a margin), however late it runs, so a sweep delayed on a busy machine, or
 * workers down for a day, miss nothing (a fixed look-back window would). One document by `_id`.
 * The consent-heads migration keeps its mark here too (`consent-heads-migrated`, consent-chain.ts):
 * `through` is when it finished.
 */
export interface SweepMarkDoc {
  _id: string;
  /** When the last successful sweep began. */
  through: Date;
}
const sweepMarkSchema = new Schema<SweepMarkDoc>(
  { _id: { type: String, required: true }, through: { type: Date, required: true } },
  { collection: 'credit_sweep_marks', versionKey: false, strict: 'throw' },
);
export const SweepMark = mongoose.model<SweepMarkDoc>('CreditSweepMark', sweepMarkSchema);

export const EXPORT_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type ExportStatus = (typeof EXPORT_STATUSES)[number];

export interface CreditExportDoc {
  _id: mongoose.Types.ObjectId;
  cooperativeId: string;
  officerId: string;
  villageIds: string[];
  asOf: Date;
  modelVersion: string;
  status: ExportStatus;
  /** 0–100. */
  progress: number;
  rows?: number;
  sha256?: string;
  keyId?: string;
  signature?: string;
  error?: string;
  createdAt: Date;
  updatedAt: Date;
  finishedAt?: Date;
}

const exportSchema = new Schema<CreditExportDoc>(
  {
    cooperativeId: { type: String, required: true },
    officerId: { type: String, required: true },
    villageIds: { type: [String], required: true },
    asOf: { type: Date, required: true },
    modelVersion: { type: String, required: true },
    status: { type: String, required: true, enum: EXPORT_STATUSES },
    progress: { type: Number, required: true },
    rows: Number,
    sha256: String,
    keyId: String,
    signature: String,
    error: String,
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    finishedAt: Date,
  },
  { collection: 'credit_exports', versionKey: false, strict: 'throw' },
);
// The sweeper finds exports that did not finish (their job lost with Redis).
exportSchema.index({ status: 1, updatedAt: 1 }, { name: 'status_updatedAt' });
export const CreditExport = mongoose.model<CreditExportDoc>('CreditExport', exportSchema);
