/**
 * Ledger storage. Entries are append-only; the indexes below are the locks that keep the
 * invariants without multi-document transactions (FerretDB 1.x has none):
 *
 * - (householdId, seq) unique: two writers that read the same head both try seq = head + 1;
 *   exactly one insert succeeds, the other gets E11000, re-reads the head and tries again (I1).
 * - (sourceType, sourceId) unique: a submission, redemption, reversal or adjustment request
 *   can post at most one entry, however often it is retried (I3).
 *
 * Every update and delete operation on entries throws: nothing in the ledger is ever edited
 * or deleted (I4). The account collection is only a cache derived from the chain (I5).
 */
import mongoose, { Schema } from 'mongoose';

export const ENTRY_TYPES = ['award', 'deduction', 'redemption', 'reversal', 'adjustment', 'expiry'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

export interface EntryDoc {
  householdId: string;
  seq: number;
  type: EntryType;
  points: number;
  spendableDelta: number;
  meritDelta: number;
  spendableAfter: number;
  meritAfter: number;
  ruleCode?: string;
  reason?: string;
  sourceType: string;
  sourceId: string;
  createdAt: Date;
  prevHash: string;
  hash: string;
}

const entrySchema = new Schema<EntryDoc>(
  {
    householdId: { type: String, required: true },
    seq: { type: Number, required: true },
    type: { type: String, required: true, enum: ENTRY_TYPES },
    points: { type: Number, required: true },
    spendableDelta: { type: Number, required: true },
    meritDelta: { type: Number, required: true },
    spendableAfter: { type: Number, required: true },
    meritAfter: { type: Number, required: true },
    ruleCode: { type: String },
    reason: { type: String },
    sourceType: { type: String, required: true },
    sourceId: { type: String, required: true },
    createdAt: { type: Date, required: true },
    prevHash: { type: String, required: true },
    hash: { type: String, required: true },
  },
  { collection: 'ledger_entries', versionKey: false, strict: 'throw' },
);
entrySchema.index({ householdId: 1, seq: 1 }, { unique: true, name: 'household_seq_unique' });
entrySchema.index({ sourceType: 1, sourceId: 1 }, { unique: true, name: 'source_unique' });
// Credit scoring and boards read entries of a type over time ranges.
entrySchema.index({ type: 1, createdAt: 1 }, { name: 'type_createdAt' });

const refuse = function (): never {
  throw new Error('ledger entries are append-only: update and delete are not allowed');
};
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
  entrySchema.pre(op, refuse);
}

export const Entry = mongoose.model<EntryDoc>('LedgerEntry', entrySchema);

/** The cached head of a household's chain. Derived data: the chain always wins. */
export interface AccountDoc {
  _id: string;
  seq: number;
  spendable: number;
  merit: number;
  hash: string;
  updatedAt: Date;
}

const accountSchema = new Schema<AccountDoc>(
  {
    _id: { type: String, required: true },
    seq: { type: Number, required: true },
    spendable: { type: Number, required: true },
    merit: { type: Number, required: true },
    hash: { type: String, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'ledger_accounts', versionKey: false },
);

export const Account = mongoose.model<AccountDoc>('LedgerAccount', accountSchema);
