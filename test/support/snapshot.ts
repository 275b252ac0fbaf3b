/**
 * "Nothing stored" made checkable: counts the documents of every collection of the test
 * database, so a test can take a snapshot before a refused request and compare after it.
 */
import mongoose from 'mongoose';
import { expect } from './expect';

export type Counts = Record<string, number>;

/**
 * A collection's document count from `collStats` (exact on FerretDB, which computes it in
 * SQL, and on MongoDB's WiredTiger in normal operation). `countDocuments({})` would read every
 * document on FerretDB-SQLite: ~1.5 s for 10,000, run per refused request over many routes.
 */
async function countOf(db: NonNullable<typeof mongoose.connection.db>, name: string): Promise<number> {
  try {
    const stats = await db.command({ collStats: name });
    if (typeof stats.count === 'number') return stats.count;
  } catch {
    // collStats unavailable (a view, or a server without it): count the slow way.
  }
  return db.collection(name).countDocuments({});
}

/** Document counts of every collection of this run's database. */
export async function countAll(): Promise<Counts> {
  const db = mongoose.connection.db;
  if (!db) throw new Error('not connected');
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  const counts: Counts = {};
  for (const name of names) counts[name] = await countOf(db, name);
  return counts;
}

/** Asserts that no collection gained or lost a document since `before` (empty ones may appear). */
export async function expectNothingStored(before: Counts, what = ''): Promise<void> {
  const after = await countAll();
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    expect(after[name] ?? 0, `${what} documents in ${name}`).to.equal(before[name] ?? 0);
  }
}

/**
 * For a table of refused requests in a describe of their own: one snapshot before the first case
 * and one closing test, registered where this is called (after the cases), that no collection
 * changed. Counting every collection twice per case cost most of each case's time under load.
 */
export function storesNothingAcrossTable(title = 'nothing was stored by any refused request above'): void {
  let counts: Counts | undefined;
  before(async () => {
    counts = await countAll();
  });
  it(title, async () => {
    if (!counts) throw new Error('no snapshot was taken');
    await expectNothingStored(counts);
  });
}
