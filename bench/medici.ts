/**
 * medici (npm `medici`, a double-entry ledger on mongoose) on the same database, as the
 * comparison the issue asks for: one posting = `book.entry(memo).debit(…).credit(…).commit()`
 * (an insertMany of two transactions and an insert of the journal; no balance check).
 *
 * FerretDB 1.x has no TTL indexes, and medici's balance-snapshot and lock models declare one
 * each (`expireAt`, `updatedAt`), so creating medici's indexes fails there. These models are
 * re-created here from medici's own fields without the TTL index (medici's setBalanceSchema /
 * setLockSchema); its other indexes are created as medici declares them. Nothing else changes.
 */
import mongoose, { Schema } from 'mongoose';
import { Book, setLockSchema } from 'medici';

// medici exports setBalanceSchema from its model module only (not from the package index).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const balanceModule = require('medici/build/models/balance') as {
  setBalanceSchema(schema: Schema, collection?: string): void;
};

const MEDICI_MODELS = ['Medici_Journal', 'Medici_Transaction', 'Medici_Lock', 'Medici_Balance'];

/** Replaces medici's two models that carry a TTL index with the same fields, minus that index. */
export function useMediciWithoutTtl(): void {
  const balance = new Schema(
    {
      key: String,
      rawKey: String,
      book: String,
      account: String,
      transaction: Schema.Types.ObjectId,
      meta: Schema.Types.Mixed,
      balance: Number,
      notes: Number,
      createdAt: Date,
      expireAt: Date,
    },
    { id: false, versionKey: false, timestamps: false },
  );
  balance.index({ key: 1 });
  balanceModule.setBalanceSchema(balance);
  const lock = new Schema(
    { book: String, account: String, updatedAt: Date, __v: Number },
    { id: false, versionKey: false, timestamps: false },
  );
  lock.index({ account: 1, book: 1 }, { unique: true });
  setLockSchema(lock);
}

// medici registers its models when imported; replace the two at once, before anything creates
// indexes (ensureIndexes creates those of every registered model).
useMediciWithoutTtl();

/** Creates medici's collections and (non-TTL) indexes. */
export async function createMediciIndexes(): Promise<void> {
  for (const name of MEDICI_MODELS) {
    const model = mongoose.connection.models[name];
    if (!model) throw new Error(`medici model ${name} is not registered`);
    await model.createCollection().catch((err: { code?: number }) => {
      if (err.code !== 48) throw err;
    });
    await model.createIndexes();
  }
}

export const mediciBook = () => new Book('bench');

/** One posting in medici: the household's account is credited, the county's awards debited. */
export async function mediciPost(book: Book, householdId: string, points: number): Promise<void> {
  await book
    .entry('bench adjustment')
    .debit('County:Awards', points)
    .credit(`Households:${householdId}`, points)
    .commit();
}
