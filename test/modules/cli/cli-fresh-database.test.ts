/**
 * The real CLI against a database of its own (not this run's shared one), so "all chains" means
 * exactly the chains made here: seed-demo, verify-chain over everything, import of the README's
 * sample file, and create-admin.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { expect } from '../../support/expect';
import { runCliProcess } from './cli-process';
import { tempDir } from '../../support/temp';

const SAMPLE = path.resolve(__dirname, '..', '..', '..', 'docs', 'samples', 'households.csv');

describe('the real CLI process on a fresh database', function () {
  this.timeout(120_000);
  const db = `cli_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dataDir = tempDir('cli-fresh');
  const raw = () => mongoose.connection.getClient().db(db);

  after(async () => {
    await raw()
      .dropDatabase()
      .catch(() => undefined);
  });

  it('seed-demo prints the credentials once, writes them 0600, and a second run seeds nothing', async () => {
    const first = await runCliProcess(['seed-demo', '--households', '12'], { db, dataDir });
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain('demo-admin');
    expect(first.stdout).to.match(/terminal\s+clientId term_/);
    const file = path.join(dataDir, 'demo-credentials.txt');
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(first.stdout).to.contain(readFileSync(file, 'utf8').trim());

    const second = await runCliProcess(['seed-demo'], { db, dataDir });
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.contain('seeded before');
    expect(await raw().collection('households').countDocuments()).to.equal(12);
  });

  it('verify-chain over all households exits 0 with "N chains verified", and 1 naming the household and seq of an entry changed in the database', async () => {
    const sound = await runCliProcess(['verify-chain'], { db, dataDir });
    expect(sound.code, sound.stderr).to.equal(0);
    expect(sound.stdout.trim()).to.equal('12 chains verified.');

    const victim = await raw().collection('ledger_entries').findOne({ seq: 2 });
    expect(victim, 'a demo household with two entries').to.not.equal(null);
    await raw()
      .collection('ledger_entries')
      .updateOne({ _id: victim!._id }, { $set: { points: (victim!.points as number) + 1 } });
    const broken = await runCliProcess(['verify-chain'], { db, dataDir });
    expect(broken.code, broken.stderr).to.equal(1);
    expect(broken.stdout).to.contain(`BROKEN household ${victim!.householdId} seq 2`);

    // --keep-going lists every broken chain, not only the first.
    const second = await raw()
      .collection('ledger_entries')
      .findOne({ seq: 1, householdId: { $ne: victim!.householdId } });
    await raw()
      .collection('ledger_entries')
      .updateOne({ _id: second!._id }, { $set: { reason: '改过' } });
    const all = await runCliProcess(['verify-chain', '--keep-going', '--parallel', '4'], {
      db,
      dataDir,
    });
    expect(all.code, all.stderr).to.equal(1);
    expect(all.stdout).to.contain(`BROKEN household ${victim!.householdId} seq 2`);
    expect(all.stdout).to.contain(`BROKEN household ${second!.householdId} seq 1`);
    expect(all.stdout).to.contain('2 broken chain(s); 12 chain(s) checked.');

    await raw()
      .collection('ledger_entries')
      .updateOne({ _id: victim!._id }, { $set: { points: victim!.points } });
    await raw()
      .collection('ledger_entries')
      .updateOne({ _id: second!._id }, { $set: { reason: second!.reason } });
    expect((await runCliProcess(['verify-chain'], { db, dataDir })).code).to.equal(0);
  });

  it('import-households of the README sample: 11 created and line 11 reported; the second import creates nothing', async () => {
    const first = await runCliProcess(['import-households', SAMPLE], { db, dataDir });
    expect(first.code, first.stderr).to.equal(1);
    expect(first.stdout).to.contain('line 11: bad_card_number');
    expect(first.stdout).to.contain('created 11, skipped 0 (already registered), bad 1.');
    const second = await runCliProcess(['import-households', SAMPLE], { db, dataDir });
    expect(second.code).to.equal(1);
    expect(second.stdout).to.contain('created 0, skipped 11 (already registered), bad 1.');
    expect(await raw().collection('households').countDocuments({ cardNo: /^QL-/ })).to.equal(11);

    const missing = await runCliProcess(['import-households', '/nonexistent.csv'], { db, dataDir });
    expect(missing.code).to.equal(2);
  });

  it('create-admin with --password-stdin creates an admin once; without a password it generates and prints one', async () => {
    const made = await runCliProcess(
      ['create-admin', '--username', 'county-admin', '--password-stdin'],
      { db, dataDir, stdin: 'a-long-enough-password\n' },
    );
    expect(made.code, made.stderr).to.equal(0);
    expect(made.stdout).to.contain('admin "county-admin" created');
    const again = await runCliProcess(
      ['create-admin', '--username', 'county-admin', '--password', 'another-long-password'],
      { db, dataDir },
    );
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('taken');
    const generated = await runCliProcess(['create-admin', '--username', 'second-admin'], {
      db,
      dataDir,
    });
    expect(generated.code, generated.stderr).to.equal(0);
    expect(generated.stdout).to.match(/generated password \(shown once\): [A-Za-z0-9_-]{24}/);
    const short = await runCliProcess(
      ['create-admin', '--username', 'third-admin', '--password', 'short'],
      { db, dataDir },
    );
    expect(short.code).to.equal(1);
    expect(short.stderr).to.contain('password');
    expect(await raw().collection('users').countDocuments({ role: 'admin' })).to.equal(3); // demo-admin + 2
    expect(await raw().collection('users').countDocuments({ username: 'third-admin' })).to.equal(0);
  });
});
