/**
 * A second "process" for the ledger race tests: connects to the test run's database on its own
 * and posts one adjustment per source given, all at once. Two of these running side by side
 * share nothing but the database, so only the unique indexes can keep the chain straight
 * (the in-process per-household queue of ledger.service.ts does not span processes).
 *
 * Input (environment): MSL_CHILD_URI, MSL_CHILD_DB, MSL_CHILD_HOUSEHOLD, MSL_CHILD_SOURCES
 * (comma-separated source ids; each posts 1 point). Output: a line `ready` once connected, then
 * one JSON line {created, replayed}.
 */
import { connectDb, disconnectDb } from '../../../src/platform/db';
import { postEntry } from '../../../src/modules/ledger/ledger.service';

async function main(): Promise<void> {
  const env = process.env;
  await connectDb(env.MSL_CHILD_URI!, env.MSL_CHILD_DB!);
  const householdId = env.MSL_CHILD_HOUSEHOLD!;
  const sources = env.MSL_CHILD_SOURCES!.split(',');
  // Say "ready" and wait for the go signal on stdin, so both children start posting at once.
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  process.stdin.pause();
  const results = await Promise.all(
    sources.map((id) =>
      postEntry({
        householdId,
        type: 'adjustment',
        points: 1,
        spendableDelta: 1,
        meritDelta: 1,
        shortfall: 'clamp',
        source: { type: 'adjustment', id },
        reason: '并发测试',
      }),
    ),
  );
  const created = results.filter((r) => r.created).length;
  process.stdout.write(`${JSON.stringify({ created, replayed: results.length - created })}\n`);
  await disconnectDb();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
