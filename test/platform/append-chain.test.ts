/**
 * The one append loop (platform/append-chain.ts), on a chain of its own in the real database:
 * two `AppendChain`s over the same collection stand for two processes, each with its own
 * in-memory head hints. C1: a hint that fell behind makes the insert collide and the append is
 * rebuilt on the chain's head. C4: a refusal built on a stale hint is not believed; only the
 * chain's head refuses. C2: a source appends once.
 */
import mongoose, { Schema, type Model } from 'mongoose';
import { expect } from '../support/expect';
import { filtersSent } from '../support/filters';
import { settleBackgroundWrites } from '../../src/platform/background';
import { DomainError } from '../../src/platform/errors';
import {
  AppendChain,
  chainIndexes,
  chainLinkFields,
  type ChainLink,
} from '../../src/platform/append-chain';

interface BalanceLink extends ChainLink {
  delta: number;
  balance: number;
}

const schema = new Schema<BalanceLink>(
  { ...chainLinkFields, delta: { type: Number, required: true }, balance: Number },
  { collection: 'test_append_links', versionKey: false },
);
chainIndexes(schema);
const Link: Model<BalanceLink> =
  (mongoose.models.TestAppendLink as Model<BalanceLink> | undefined) ??
  mongoose.model<BalanceLink>('TestAppendLink', schema);

/** A balance that never goes below zero: the bound every chain of the project keeps. */
function move(chain: AppendChain<BalanceLink>, key: string, sourceId: string, delta: number) {
  return chain.append(key, { type: 'test', id: sourceId }, (head) => {
    const balance = (head?.balance ?? 0) + delta;
    if (balance < 0) throw new DomainError('out_of_stock', 'below zero');
    return { delta, balance };
  });
}

describe('append chain: one loop, hints never decide (C1, C2, C4)', () => {
  before(async () => {
    await Link.createIndexes();
  });

  it('a stale hint costs a retry on the chain, both for a collision and for a refusal', async () => {
    const a = new AppendChain(Link, 'test-balance');
    const b = new AppendChain(Link, 'test-balance');
    const key = `k-${new mongoose.Types.ObjectId().toHexString()}`;
    await move(a, key, `${key}-1`, 5);
    await move(a, key, `${key}-2`, -5); // a's hint: balance 0 at seq 2
    await move(b, key, `${key}-3`, 5); // b reads the chain: seq 3, balance 5
    // On a's hint, −3 would go below zero; the chain's head allows it (C4).
    const { link, created } = await move(a, key, `${key}-4`, -3);
    expect(created).to.equal(true);
    expect(link).to.include({ seq: 4, balance: 2 });
    await move(b, key, `${key}-5`, 1); // b's hint (seq 3) is behind: its insert collides (C1)
    expect((await b.head(key))!).to.include({ seq: 5, balance: 3 });
    // The chain's own head refuses, and nothing is written.
    let thrown: unknown;
    await move(a, key, `${key}-6`, -4).catch((err: unknown) => (thrown = err));
    expect((thrown as DomainError).code).to.equal('out_of_stock');
    expect((await a.head(key))!.seq).to.equal(5);
  });

  it('a warmed head spares the append its reads, and a warmed head that fell behind decides nothing', async () => {
    const a = new AppendChain(Link, 'test-balance');
    const b = new AppendChain(Link, 'test-balance');
    const key = `k-${new mongoose.Types.ObjectId().toHexString()}`;
    // An empty chain warmed: the append builds seq 1 on it without reading the chain's head
    // (its look-up by source, C2, is not a head read).
    await a.warm(key);
    const headReads = (sent: string[]) =>
      sent.filter((f) => /^(test_append_links|chain_heads) find/.test(f));
    expect(headReads(await filtersSent(() => move(a, key, `${key}-1`, 5)))).to.deep.equal([]);
    // b warms (balance 5), then a, standing for another process, takes 4: b's warmed head is
    // behind. On it, −3 would pass (5 − 3); on the chain (1) it must be refused, and is (C4),
    // after b's stale build collides with a's seq 2 (C1).
    await b.warm(key);
    await move(a, key, `${key}-2`, -4);
    let thrown: unknown;
    await move(b, key, `${key}-3`, -3).catch((err: unknown) => (thrown = err));
    expect((thrown as DomainError).code).to.equal('out_of_stock');
    expect((await a.head(key))!).to.include({ seq: 2, balance: 1 });
    // A head remembered while a warm read was under way is kept: warming never moves it back.
    // b's first head read (the warm's: an empty chain) is held until b has appended seq 1.
    const realHead = b.head.bind(b);
    let readDone!: () => void;
    const warmRead = new Promise<void>((r) => (readDone = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = false;
    b.head = async (chain: string) => {
      const head = await realHead(chain);
      if (!held) {
        held = true;
        readDone();
        await gate;
      }
      return head;
    };
    const warming = b.warm(`${key}-other`);
    await warmRead;
    await move(b, `${key}-other`, `${key}-o1`, 7);
    release();
    await warming;
    const next = await filtersSent(() => move(b, `${key}-other`, `${key}-o2`, 1));
    expect(headReads(next)).to.deep.equal([]);
    expect((await b.head(`${key}-other`))!).to.include({ seq: 2, balance: 8 });
  });

  it('a source appends once, from either process, however often it is retried (C2)', async () => {
    const a = new AppendChain(Link, 'test-balance');
    const b = new AppendChain(Link, 'test-balance');
    const key = `k-${new mongoose.Types.ObjectId().toHexString()}`;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => move(i % 2 ? a : b, key, `${key}-once`, 2)),
    );
    expect(results.filter((r) => r.created)).to.have.length(1);
    for (const r of results) expect(r.link).to.include({ seq: 1, balance: 2 });
    expect(await Link.countDocuments({ chain: key })).to.equal(1);
  });

  it('the stored head hints of chains that reach one at the same moment go to the database together, each at its newest seq', async () => {
    // Group-committed links (as stock and the allowance are): the eighth links of all chains are
    // written in one batch, so their hints are handed over in one turn.
    const a = new AppendChain(Link, 'test-hints', { groupCommit: true });
    const run = new mongoose.Types.ObjectId().toHexString();
    const keys = Array.from({ length: 12 }, (_, i) => `h-${run}-${i}`);
    // Seven links each, one chain after another in turn; the eighth of every chain at once.
    for (let n = 1; n <= 7; n++) await Promise.all(keys.map((k) => move(a, k, `${k}-${n}`, 1)));
    const writes: string[] = [];
    mongoose.set('debug', (collection: string, method: string, ...args: unknown[]) => {
      if (collection !== 'chain_heads') return;
      const ops = Array.isArray(args[0]) ? args[0].length : 1;
      writes.push(`${method} ${ops}`);
    });
    try {
      // Fresh sources without pointers (as a redemption's takes): nothing is read or written
      // between the batch and the hints, so all twelve are handed over in one turn.
      await Promise.all(
        keys.map((k) =>
          a.append(
            k,
            { type: 'test', id: `${k}-8` },
            (h) => ({ delta: 1, balance: h!.balance + 1 }),
            {
              fresh: true,
              pointer: false,
            },
          ),
        ),
      );
      await settleBackgroundWrites();
    } finally {
      mongoose.set('debug', false);
    }
    // Twelve hints in bulkWrites of at most eight (SEQ_UPSERT_BATCH), not twelve updates.
    expect(writes).to.deep.equal(['bulkWrite 8', 'bulkWrite 4']);
    const heads = mongoose.connection.db!.collection<{ _id: string; seq: number }>('chain_heads');
    for (const k of keys) {
      const hint = await heads.findOne({ _id: `test-hints|${k}` });
      expect(hint?.seq, k).to.equal(8);
    }
    // A process without the heads in memory finds them from the hints.
    const b = new AppendChain(Link, 'test-hints');
    expect((await b.head(keys[0]!))!).to.include({ seq: 8, balance: 8 });
  });

  it('a fresh source queued behind other appends of its chain is not looked up (the source index still refuses a second link)', async () => {
    const a = new AppendChain(Link, 'test-fresh', { groupCommit: true });
    const key = `f-${new mongoose.Types.ObjectId().toHexString()}`;
    await move(a, key, `${key}-0`, 100);
    const fresh = (id: string) =>
      a.append(key, { type: 'test', id }, (head) => ({ delta: -1, balance: head!.balance - 1 }), {
        fresh: true,
        pointer: false,
      });
    const seen = await filtersSent(() =>
      Promise.all(Array.from({ length: 6 }, (_, i) => fresh(`${key}-${i + 1}`))),
    );
    expect(seen.filter((f) => f.startsWith('chain_sources'))).to.deep.equal([]);
    expect((await a.head(key))!).to.include({ seq: 7, balance: 94 });
    // The same source again, though called fresh by mistake: refused by the index, not appended.
    const again = await fresh(`${key}-3`);
    expect(again.created).to.equal(false);
    expect(again.link.seq).to.equal(4);
    expect((await a.head(key))!.seq).to.equal(7);
  });
});
