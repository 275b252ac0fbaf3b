/**
 * "Nothing stored" made checkable: counts the documents of every collection of the test
 * database, so a test can take a snapshot before a refused request and compare after it.
 */
import mongoose from 'mongoose';
import { expect } from './expect';

export type Counts = Record<string, number>;

/** Document counts of every collection of this run's database. */
export async function countAll(): Promise<Counts> {
  const db = mongoose.connection.db;
  if (!db) throw new Error('not connected');
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  const counts: Counts = {};
  for (const name of names) counts[name] = await db.collection(name).countDocuments({});
  return counts;
}

/** Asserts that no collection gained or lost a document since `before` (empty ones may appear). */
export async function expectNothingStored(before: Counts, what = ''): Promise<void> {
  const after = await countAll();
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    expect(after[name] ?? 0, `${what} documents in ${name}`).to.equal(before[name] ?? 0);
  }
}
