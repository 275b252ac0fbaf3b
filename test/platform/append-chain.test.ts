/**
 * The one append loop (platform/append-chain.ts), on a chain of its own in the real database:
 * two `AppendChain`s over the same collection stand for two processes, each with its own
 * in-memory head hints. C1: a hint that fell behind makes the insert collide and the append is
 * rebuilt on the chain's head. C4: a refusal built on a stale hint is not believed; only the
 * chain's head refuses. C2: a source appends once.
 */
import mongoose, { Schema, type Model } from 'mongoose';
import { expect } from '../support/expect';
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
});
