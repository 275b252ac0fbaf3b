/**
 * The admin bootstrap on a database of its own: the shared test database already holds admins
 * (every test makes one), so "first start against an empty database" needs a fresh one. Runs
 * in its own process against the test run's server, then drops its databases.
 *
 * Input (environment): MSL_CHILD_URI, MSL_CHILD_DB (a prefix), MSL_CHILD_KDF.
 * Output: one JSON line with what each step returned and what the database then held.
 */
import mongoose from 'mongoose';
import '../../../src/modules/models';
import { connectDb, disconnectDb, ensureIndexes } from '../../../src/platform/db';
import { verifySecret } from '../../../src/platform/auth';
import { User } from '../../../src/modules/users/users.model';
import { ensureBootstrapAdmin } from '../../../src/modules/users/users.service';

async function admins() {
  const docs = await User.find({ role: 'admin' }).lean();
  return docs.map((d) => ({
    username: d.username,
    hashIsScrypt: d.passwordHash.startsWith('scrypt$'),
  }));
}

async function main(): Promise<void> {
  const env = process.env;
  const kdf = Number(env.MSL_CHILD_KDF);
  const out: Record<string, unknown> = {};

  // 1. One start, then a second start configured with another name.
  await connectDb(env.MSL_CHILD_URI!, `${env.MSL_CHILD_DB}_seq`);
  await ensureIndexes();
  out.withoutEnv = await ensureBootstrapAdmin(undefined, kdf);
  out.first = await ensureBootstrapAdmin(
    { username: 'county-admin', password: 'first-password-123' },
    kdf,
  );
  out.second = await ensureBootstrapAdmin(
    { username: 'another-admin', password: 'second-password-456' },
    kdf,
  );
  out.again = await ensureBootstrapAdmin(
    { username: 'county-admin', password: 'changed-password-789' },
    kdf,
  );
  out.seqAdmins = await admins();
  const stored = await User.findOne({ username: 'county-admin' }).lean();
  out.firstPasswordStillWorks = stored
    ? await verifySecret('first-password-123', stored.passwordHash)
    : false;
  await mongoose.connection.db!.dropDatabase();
  await disconnectDb();

  // 2. Five processes' worth of starts at once, same environment.
  await connectDb(env.MSL_CHILD_URI!, `${env.MSL_CHILD_DB}_par`);
  await ensureIndexes();
  out.parallel = await Promise.all(
    Array.from({ length: 5 }, () =>
      ensureBootstrapAdmin({ username: 'county-admin', password: 'first-password-123' }, kdf),
    ),
  );
  out.parAdmins = await admins();
  await mongoose.connection.db!.dropDatabase();
  await disconnectDb();

  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
