/**
 * The rule catalogue (积分细则) as append-only versions, and the cap ledger.
 *
 * - `rule_versions`: one document per version of a county rule. Unique (code, version): two
 *   admins posting the same code at once both try version head + 1; one insert wins, the other
 *   re-reads and takes the next number. A version is never edited; a change is a new version.
 * - `rule_overrides`: a village's own versions of a county rule (switched off, or its own
 *   points). Unique (villageId, code, version), same discipline.
 * - `cap_claims`: per household, rule and year, a hash-free chain like the ledger's: each claim
 *   carries the running use per month after it. Unique (key, seq) makes two concurrent filings
 *   that read the same head take turns, so a cap cannot be overrun by a race; unique
 *   (sourceId) makes a retried claim or release count once.
 */
import mongoose, { Schema } from 'mongoose';

import { RULE_KINDS, type RuleKind } from './rule-kinds';

export { RULE_KINDS, type RuleKind };

/** The terms a rule version may leave out: stored, and shown, only when given. */
export const OPTIONAL_RULE_TERMS = [
  'points',
  'pointsPerUnit',
  'unit',
  'capPerMonth',
  'capPerYear',
  'description',
] as const;

export interface RuleVersionDoc {
  _id: mongoose.Types.ObjectId;
  code: string;
  version: number;
  title: string;
  kind: RuleKind;
  /** Fixed points per deed (a magnitude; the kind gives the sign). */
  points?: number;
  /** Or a rate: points per unit (e.g. per volunteer hour). */
  pointsPerUnit?: number;
  unit?: string;
  /** Most points one household may get (or lose) under this rule in a calendar month / year. */
  capPerMonth?: number;
  capPerYear?: number;
  /** Whether a submission must carry at least one attachment (evidence text is always required). */
  attachmentRequired: boolean;
  /** A retired version switches the rule off from its effectiveFrom. */
  retired: boolean;
  /** YYYY-MM-DD. Version 1 is in force for any date before a later version takes over. */
  effectiveFrom: string;
  description?: string;
  createdBy?: string;
  createdAt: Date;
}

const ruleVersionSchema = new Schema<RuleVersionDoc>(
  {
    code: { type: String, required: true },
    version: { type: Number, required: true },
    title: { type: String, required: true },
    kind: { type: String, required: true, enum: RULE_KINDS },
    points: Number,
    pointsPerUnit: Number,
    unit: String,
    capPerMonth: Number,
    capPerYear: Number,
    attachmentRequired: { type: Boolean, required: true, default: false },
    retired: { type: Boolean, required: true, default: false },
    effectiveFrom: { type: String, required: true },
    description: String,
    createdBy: String,
  },
  {
    collection: 'rule_versions',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
ruleVersionSchema.index({ code: 1, version: 1 }, { unique: true, name: 'code_version_unique' });

export const RuleVersion = mongoose.model<RuleVersionDoc>('RuleVersion', ruleVersionSchema);

export interface RuleOverrideDoc {
  _id: mongoose.Types.ObjectId;
  villageId: string;
  code: string;
  version: number;
  /** The village does not use this rule from effectiveFrom. */
  disabled: boolean;
  points?: number;
  pointsPerUnit?: number;
  effectiveFrom: string;
  createdBy?: string;
  createdAt: Date;
}

const ruleOverrideSchema = new Schema<RuleOverrideDoc>(
  {
    villageId: { type: String, required: true },
    code: { type: String, required: true },
    version: { type: Number, required: true },
    disabled: { type: Boolean, required: true, default: false },
    points: Number,
    pointsPerUnit: Number,
    effectiveFrom: { type: String, required: true },
    createdBy: String,
  },
  {
    collection: 'rule_overrides',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
ruleOverrideSchema.index(
  { villageId: 1, code: 1, version: 1 },
  { unique: true, name: 'village_code_version_unique' },
);

export const RuleOverride = mongoose.model<RuleOverrideDoc>('RuleOverride', ruleOverrideSchema);

export interface CapClaimDoc {
  _id: mongoose.Types.ObjectId;
  /** `${householdId}|${ruleCode}|${year}`. */
  key: string;
  seq: number;
  /** What this claim is for, e.g. `${submissionId}|${householdId}|claim`; unique. */
  sourceId: string;
  submissionId: string;
  /** Signed: + when a filing takes points of the cap, − when a rejection gives them back. */
  delta: number;
  month: number;
  /** Points used in each month (index 0 = January) after this claim. */
  usedByMonth: number[];
  createdAt: Date;
}

const capClaimSchema = new Schema<CapClaimDoc>(
  {
    key: { type: String, required: true },
    seq: { type: Number, required: true },
    sourceId: { type: String, required: true },
    submissionId: { type: String, required: true },
    delta: { type: Number, required: true },
    month: { type: Number, required: true },
    usedByMonth: { type: [Number], required: true },
  },
  {
    collection: 'cap_claims',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
capClaimSchema.index({ key: 1, seq: 1 }, { unique: true, name: 'key_seq_unique' });
capClaimSchema.index({ sourceId: 1 }, { unique: true, name: 'source_unique' });
capClaimSchema.index({ submissionId: 1 }, { name: 'submission' });
for (const op of [
  'updateOne',
  'updateMany',
  'findOneAndUpdate',
  'replaceOne',
  'deleteOne',
  'deleteMany',
  'findOneAndDelete',
] as const) {
  capClaimSchema.pre(op, () => {
    throw new Error('cap claims are append-only');
  });
}

export const CapClaim = mongoose.model<CapClaimDoc>('CapClaim', capClaimSchema);
