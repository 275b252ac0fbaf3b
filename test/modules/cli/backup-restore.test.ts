/**
 * `npm run cli -- backup DIR` and `restore DIR` as real processes, on databases of their own:
 * a demo county is backed up, more is posted, and the backup restored into an empty database
 * gives exactly the backed-up state (every chain verifies, every balance equals the backup's,
 * BSON types and indexes survive). A non-empty target, an altered file and a broken chain are
 * refused or reported, and nothing is written for a backup that does not check out.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BSON, type Db } from 'mongodb';
import mongoose from 'mongoose';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { runCliProcess } from './cli-process';
import type { Manifest } from '../../../src/cli/backup';
import { tempDir } from '../../support/temp';

const { Binary, Double, EJSON, Int32, Long, ObjectId } = BSON;

/** Balances per household from the chain itself: the last entry's balances after it. */
async function balances(
  db: Db,
): Promise<Record<string, { seq: number; spendable: number; merit: number }>> {
  const out: Record<string, { seq: number; spendable: number; merit: number }> = {};
  for await (const e of db.collection('ledger_entries').find({})) {
    const cur = out[e.householdId as string];
    if (!cur || cur.seq < (e.seq as number))
      out[e.householdId as string] = {
        seq: e.seq as number,
        spendable: e.spendableAfter as number,
        merit: e.meritAfter as number,
      };
  }
  return out;
}

/** Posts `n` one-point adjustments to a household from a separate process (the ledger service). */
function postMore(dbName: string, householdId: string, n: number): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', path.resolve(__dirname, '..', 'ledger', 'post-entries.child.ts')],
    {
      env: {
        ...process.env,
        MSL_CHILD_URI: ctx().mongoUri,
        MSL_CHILD_DB: dbName,
        MSL_CHILD_HOUSEHOLD: householdId,
        MSL_CHILD_SOURCES: Array.from({ length: n }, () => new ObjectId().toHexString()).join(','),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  child.stdout.on('data', (d: Buffer) => {
    if (d.toString().includes('ready')) child.stdin.end('go\n');
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`post-entries child exited ${code}`)),
    ),
  );
}

describe('backup and restore (the real CLI)', function () {
  this.timeout(600_000);
  const tag = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const names = {
    src: `bk_src_${tag}`,
    dst: `bk_dst_${tag}`,
    tampered: `bk_tmp_${tag}`,
    broken: `bk_brk_${tag}`,
  };
  const work = tempDir('backup');
  const dir = path.join(work, 'backup');
  const raw = (name: string) => mongoose.connection.getClient().db(name);
  const probe = {
    _id: new ObjectId(),
    at: new Date('2024-02-29T23:59:59.123Z'),
    int32: new Int32(7),
    long: Long.fromString('9007199254740993'),
    double: new Double(2),
    bytes: new Binary(Buffer.from([0, 1, 2, 254, 255])),
    text: '张三 👨‍👩‍👧 e\u0301',
    nested: [{ a: null, b: true, c: [new Int32(1), new Double(1.5)] }],
  };
  const asCanonical = async (db: Db) =>
    EJSON.stringify(
      await db.collection('backup_probe').findOne({ _id: probe._id }, { promoteValues: false }),
      { relaxed: false },
    );

  after(async () => {
    for (const n of Object.values(names))
      await raw(n)
        .dropDatabase()
        .catch(() => undefined);
  });

  let atBackup: Awaited<ReturnType<typeof balances>>;
  let manifest: Manifest;

  it('backup DIR › every collection with counts, checksums and indexes in manifest.json; a folder that is not empty is refused', async () => {
    const seeded = await runCliProcess(['seed-demo', '--households', '12'], { db: names.src });
    expect(seeded.code, seeded.stderr).to.equal(0);
    await raw(names.src).collection('backup_probe').insertOne(probe);
    atBackup = await balances(raw(names.src));
    expect(Object.keys(atBackup).length).to.be.greaterThan(5);

    const res = await runCliProcess(['backup', dir], { db: names.src });
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.match(/^backed up \d+ collections, \d+ documents, to /m);
    manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const source = (await raw(names.src).listCollections({}, { nameOnly: true }).toArray())
      .map((c) => c.name)
      .sort();
    expect(manifest.collections.map((c) => c.name).sort()).to.deep.equal(source);
    expect(manifest.collections[0]!.name, 'the account cache before the entries').to.equal(
      'ledger_accounts',
    );
    for (const c of manifest.collections)
      expect(c.documents, c.name).to.equal(
        await raw(names.src).collection(c.name).countDocuments(),
      );
    const entries = manifest.collections.find((c) => c.name === 'ledger_entries')!;
    expect(entries.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(entries.indexes.some((ix) => ix.unique)).to.equal(true);

    const again = await runCliProcess(['backup', dir], { db: names.src });
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('is not empty');
  });

  it('restore DIR into an empty database after more was posted › exactly the backed-up state: every chain verifies, balances equal the backup’s, types and indexes survive', async () => {
    const household = Object.keys(atBackup)[0]!;
    await postMore(names.src, household, 5);
    expect((await balances(raw(names.src)))[household]!.seq).to.equal(atBackup[household]!.seq + 5);

    const res = await runCliProcess(['restore', dir], { db: names.dst });
    expect(res.code, `${res.stdout}\n${res.stderr}`).to.equal(0);
    expect(res.stdout).to.contain(`restored ${manifest.collections.length} collections`);
    expect(res.stdout).to.match(/^\d+ chains verified\.$/m);
    expect(await balances(raw(names.dst))).to.deep.equal(atBackup);
    for (const c of manifest.collections)
      expect(await raw(names.dst).collection(c.name).countDocuments(), c.name).to.equal(
        c.documents,
      );
    expect(await asCanonical(raw(names.dst)), 'every BSON type as it was').to.equal(
      await asCanonical(raw(names.src)),
    );
    const restored = await raw(names.dst)
      .collection('backup_probe')
      .findOne({ _id: probe._id }, { promoteValues: false });
    expect(restored!.long).to.be.instanceOf(Long);
    expect(restored!.int32).to.be.instanceOf(Int32);
    expect(restored!.double).to.be.instanceOf(Double);
    expect(restored!.at).to.be.instanceOf(Date);
    const ix = async (n: string) =>
      (await raw(n).collection('ledger_entries').indexes())
        .map((i) => ({ name: i.name, key: i.key, unique: Boolean(i.unique) }))
        .sort((a, b) => String(a.name).localeCompare(String(b.name)));
    expect(await ix(names.dst)).to.deep.equal(await ix(names.src));
  });

  it('restore into a database that is not empty › refused (exit 1), nothing written', async () => {
    const before = await raw(names.dst).collection('ledger_entries').countDocuments();
    const res = await runCliProcess(['restore', dir], { db: names.dst });
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('is not empty');
    expect(await raw(names.dst).collection('ledger_entries').countDocuments()).to.equal(before);
  });

  it('a backup file altered by one byte › refused before anything is written', async () => {
    const altered = path.join(work, 'altered');
    cpSync(dir, altered, { recursive: true });
    const file = path.join(altered, 'ledger_entries.ejson.gz');
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1]! ^= 0x01;
    writeFileSync(file, bytes);
    const res = await runCliProcess(['restore', altered], { db: names.tampered });
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('ledger_entries.ejson.gz does not match its SHA-256');
    for (const c of manifest.collections)
      expect(await raw(names.tampered).collection(c.name).countDocuments(), c.name).to.equal(0);
  });

  it('a backup of a database whose chain was altered › restored, and the restore reports the broken chain (exit 1)', async () => {
    const victim = await raw(names.src).collection('ledger_entries').findOne({ seq: 1 });
    await raw(names.src)
      .collection('ledger_entries')
      .updateOne({ _id: victim!._id }, { $set: { points: (victim!.points as number) + 1 } });
    const second = path.join(work, 'second');
    expect((await runCliProcess(['backup', second], { db: names.src })).code).to.equal(0);
    const res = await runCliProcess(['restore', second], { db: names.broken });
    expect(res.code).to.equal(1);
    expect(res.stdout).to.contain(`BROKEN household ${victim!.householdId as string} seq 1`);
  });
});
