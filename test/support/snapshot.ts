/**
 * "Nothing stored" made checkable: counts the documents of every collection of the test
 * database, so a test can take a snapshot before a refused request and compare after it.
 */
import mongoose from 'mongoose';
import { settleBackgroundWrites } from '../../src/platform/background';
import { ctx } from './context';
import { expect } from './expect';

export type Counts = Record<string, number>;

/** Collections counted at once (the driver's pool is 100; the suite runs two files at once). */
const COUNTS_AT_ONCE = 16;

/**
 * A collection's document count. On embedded FerretDB-SQLite, from the `$collStats` stage with
 * only `count` (SQLite's own count, exact: it follows every insert and delete at once), which
 * skips the page-size statistics the `collStats` command adds and costs a third of it once
 * the suite's database has grown. Elsewhere from `collStats` (exact on FerretDB-PostgreSQL,
 * where `$collStats` answers -1, and on MongoDB's WiredTiger in normal operation).
 * `countDocuments({})` would read every document on FerretDB-SQLite: ~1.5 s for 10,000, run
 * per refused request over many routes.
 */
async function countOf(
  db: NonNullable<typeof mongoose.connection.db>,
  name: string,
  sqlite: boolean,
): Promise<number> {
  try {
    if (sqlite) {
      const [stats] = await db
        .collection(name)
        .aggregate<{ count?: unknown }>([{ $collStats: { count: {} } }])
        .toArray();
      if (typeof stats?.count === 'number' && stats.count >= 0) return stats.count;
    }
    const stats = await db.command({ collStats: name });
    if (typeof stats.count === 'number') return stats.count;
  } catch {
    // collStats unavailable (a view, or a server without it): count the slow way.
  }
  return db.collection(name).countDocuments({});
}

/**
 * Document counts of every collection of this run's database, once the writes sent in the
 * background (the account cache of an earlier posting) have landed: a count taken while one is
 * still on its way would change without anything of the test's own being stored.
 */
export async function countAll(): Promise<Counts> {
  await settleBackgroundWrites();
  const db = mongoose.connection.db;
  if (!db) throw new Error('not connected');
  const names = (await db.listCollections({}, { nameOnly: true }).toArray())
    .map((c) => c.name)
    .sort();
  const { config } = ctx();
  const sqlite = !config.mongodbUri && config.ferretdb.handler === 'sqlite';
  // Counted side by side, COUNTS_AT_ONCE at a time: one after another, the ~80 collections' counts
  // were most of the time of a table of refused requests (two snapshots per route).
  const counts: Counts = {};
  for (let i = 0; i < names.length; i += COUNTS_AT_ONCE) {
    const part = names.slice(i, i + COUNTS_AT_ONCE);
    const found = await Promise.all(part.map((name) => countOf(db, name, sqlite)));
    part.forEach((name, j) => (counts[name] = found[j]!));
  }
  return counts;
}

/** What was stored or removed between two snapshots: one line per collection whose count moved. */
export function storedSince(before: Counts, after: Counts): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((name) => (after[name] ?? 0) !== (before[name] ?? 0))
    .map((name) => `stored ${(after[name] ?? 0) - (before[name] ?? 0)} document(s) in ${name}`);
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
export function storesNothingAcrossTable(
  title = 'nothing was stored by any refused request above',
): void {
  let counts: Counts | undefined;
  before(async () => {
    counts = await countAll();
  });
  it(title, async () => {
    if (!counts) throw new Error('no snapshot was taken');
    await expectNothingStored(counts);
  });
}
