/**
 * Ledger storage. Entries are append-only; unique keys are the locks that keep the invariants
 * without multi-document transactions (FerretDB 1.x has none):
 *
 * - `_id` = `<householdId>:<seq>`: two writers that read the same head both try seq = head + 1;
 *   exactly one insert succeeds, the other gets E11000, re-reads the head and tries again (I1).
 *   Making the position the `_id` also makes every head and page look-up an `_id` look-up,
 *   the only filter FerretDB's SQLite backend pushes down to an index (others scan).
 * - (sourceType, sourceId) unique: a submission, redemption, reversal or adjustment request
 *   can post at most one entry, however often it is retried (I3).
 *
 * Every update and delete operation on entries throws, on the model and on loaded documents:
 * nothing in the ledger is ever edited or deleted (I4). The account collection is only a cache
 * derived from the chain (I5).
 */
import mongoose, { Schema } from 'mongoose';

export const ENTRY_TYPES = [
  'award',
  'deduction',
  'redemption',
  'reversal',
  'adjustment',
  'expiry',
] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

export interface EntryDoc {
  /** `<householdId>:<seq>` (see entryId). */
  _id: string;
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
    _id: { type: String, required: true },
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
// Also unique, for MongoDB's range reads by household; `_id` already holds the same key.
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
// The same verbs called on a loaded document, a save of a changed document, and bulkWrite
// (whose update/delete operations bypass query middleware) are refused too; entries are only
// ever created, one by one, by postEntry.
entrySchema.pre(['updateOne', 'deleteOne'], { document: true, query: false }, refuse);
entrySchema.pre('save', function () {
  if (!this.isNew) refuse();
});
entrySchema.pre('bulkWrite', refuse);

export const Entry = mongoose.model<EntryDoc>('LedgerEntry', entrySchema);

/** The `_id` of a household's entry at `seq`. */
export function entryId(householdId: string, seq: number): string {
  return `${householdId}:${seq}`;
}

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
