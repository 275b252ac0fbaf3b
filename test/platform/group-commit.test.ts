/**
 * Group commit's limits (platform/group-commit.ts) and the account cache's writes that stand on
 * them: batches of at most `max`, at most `inFlight` on their way, and cache writes coalesced to
 * the newest per key. The last test is the regression of a real hang: FerretDB 1.24 holds one
 * connection per update statement until a bulk update ends, and unbounded concurrent batches
 * of account-cache updates took its whole pool.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { expect } from '../support/expect';
import { getAccount } from '../../src/modules/ledger/ledger.service';
import { award } from '../../src/modules/ledger/ledger.verbs';
import { Account } from '../../src/modules/ledger/ledger.model';
import { settleBackgroundWrites } from '../../src/platform/background';
import { GroupCommit, seqUpserts } from '../../src/platform/group-commit';

type Doc = { _id: string; key: string; seq: number };
const collection = () =>
  mongoose.connection.db!.collection<Doc>(`group_commit_${randomBytes(4).toString('hex')}`);

describe('platform: group commit limits', () => {
  it('sends batches of at most `max` documents, one batch at a time with `inFlight: 1`, and writes every document', async () => {
    const coll = collection();
    let onTheirWay = 0;
    let most = 0;
    const sizes: number[] = [];
    const batch = new GroupCommit<Doc>(
      async (docs) => {
        onTheirWay++;
        most = Math.max(most, onTheirWay);
        sizes.push(docs.length);
        await sleep(5);
        await coll.insertMany(docs, { ordered: false });
        onTheirWay--;
      },
      { max: 8, inFlight: 1 },
    );
    const docs = Array.from({ length: 30 }, (_, i) => ({ _id: `d${i}`, key: `k${i}`, seq: i }));
    await Promise.all(docs.map((d) => batch.insert(d)));
    expect(most).to.equal(1);
    expect(Math.max(...sizes)).to.equal(8);
    expect(sizes.reduce((a, b) => a + b, 0)).to.equal(30);
    expect(await coll.countDocuments({})).to.equal(30);
  });

  it('coalesces waiting writes of one key to the one `keep` chooses, settles every caller, and never alters a batch already sent', async () => {
    const coll = collection();
    const sent: Doc[][] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const batch = new GroupCommit<Doc>(
      async (docs) => {
        sent.push(docs.map((d) => ({ ...d })));
        if (sent.length === 1) await held; // the first batch stays on its way a while
        for (const d of docs) await coll.replaceOne({ _id: d._id }, d, { upsert: true });
      },
      {
        inFlight: 1,
        coalesce: { key: (d) => d.key, keep: (a, b) => (b.seq >= a.seq ? b : a) },
      },
    );
    const first = batch.insert({ _id: 'h1', key: 'h1', seq: 1 });
    await sleep(10); // the first batch is sent and held
    const later = [5, 3, 9, 7].map((seq) => batch.insert({ _id: 'h1', key: 'h1', seq }));
    await sleep(10);
    release();
    await Promise.all([first, ...later]);
    expect(sent).to.deep.equal([
      [{ _id: 'h1', key: 'h1', seq: 1 }],
      [{ _id: 'h1', key: 'h1', seq: 9 }],
    ]);
    expect(await coll.findOne({ _id: 'h1' })).to.include({ seq: 9 });
  });

  it('seqUpserts: writes waiting for one `_id` become one, at the highest seq whichever came last', async () => {
    const c = mongoose.connection.db!.collection<{ _id: string; seq: number; note: string }>(
      `seq_upserts_${randomBytes(4).toString('hex')}`,
    );
    const w = seqUpserts(() => c);
    await Promise.all([
      w.write('a', { seq: 3, note: 'third' }),
      w.write('a', { seq: 5, note: 'fifth' }),
      w.write('a', { seq: 4, note: 'fourth, late' }),
      w.write('b', { seq: 1, note: 'first' }),
    ]);
    expect(await c.find({}).sort({ _id: 1 }).toArray()).to.deep.equal([
      { _id: 'a', seq: 5, note: 'fifth' },
      { _id: 'b', seq: 1, note: 'first' },
    ]);
    expect(w.stats).to.include({ batches: 1, documents: 2, coalesced: 2 });
    await w.write('a', { seq: 6, note: 'sixth' });
    expect(await c.findOne({ _id: 'a' })).to.deep.equal({ _id: 'a', seq: 6, note: 'sixth' });
  });

  it('32 postings at once over 64 households, each leaving its account cache to the background: every posting answers, every cache ends at its head', async function () {
    this.timeout(60_000);
    const households = Array.from({ length: 64 }, () =>
      new mongoose.Types.ObjectId().toHexString(),
    );
    const end = Date.now() + 2_000;
    let posted = 0;
    await Promise.all(
      Array.from({ length: 32 }, async (_, worker) => {
        for (let i = worker; Date.now() < end; i += 32) {
          await award({
            householdId: households[i % households.length]!,
            points: 1,
            source: { type: 'test', id: randomBytes(8).toString('hex') },
            reason: '并发测试',
          });
          posted++;
        }
      }),
    );
    await settleBackgroundWrites();
    expect(posted).to.be.greaterThan(64);
    for (const h of households) {
      const cached = await Account.findById(h).lean(); // as left, before a read repairs it
      const account = await getAccount(h);
      expect(cached, h).to.include({ seq: account.entryCount, spendable: account.spendable });
    }
  });
});
