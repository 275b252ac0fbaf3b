/**
 * The bench's command counter (bench/roundtrips.ts) on a real monitored connection: it counts and
 * times each collection's commands sent while it is on, and only those; the times table names
 * each kind with its percentiles.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { expect } from '../support/expect';
import { ctx } from '../support/context';
import { monitoredUri } from '../../bench/context';
import { commandTimeTable } from '../../bench/report';
import { RoundTripCounter, summariseTimes } from '../../bench/roundtrips';

describe('bench: database command times', () => {
  let client: MongoClient;
  before(async () => {
    client = new MongoClient(monitoredUri(ctx().mongoUri));
    await client.connect();
  });
  after(() => client.close());

  it('summarises durations by nearest rank, the longest total first', () => {
    const times = summariseTimes(
      new Map([
        ['a find', [5, 1]],
        ['b insert', Array.from({ length: 100 }, (_, i) => 100 - i)],
      ]),
    );
    expect(Object.keys(times)).to.deep.equal(['b insert', 'a find']);
    expect(times['b insert']).to.deep.equal({
      n: 100,
      p50Ms: 50,
      p95Ms: 95,
      p99Ms: 99,
      maxMs: 100,
      totalMs: 5050,
    });
    expect(times['a find']).to.include({ n: 2, p50Ms: 1, maxMs: 5, totalMs: 6 });
  });

  it('times the commands of its window by collection and command, and no others', async () => {
    const db = client.db(ctx().config.mongodbDb);
    const name = `bench_times_${randomBytes(4).toString('hex')}`;
    const col = db.collection<{ _id: string }>(name);
    const counter = new RoundTripCounter(client);
    await col.insertOne({ _id: 'before' }); // before the window: neither counted nor timed
    counter.start();
    await col.insertOne({ _id: 'a' });
    await col.insertOne({ _id: 'b' });
    await col.findOne({ _id: 'a' });
    const counts = counter.stop();
    await col.findOne({ _id: 'b' }); // after the window
    const times = counter.lastTimes();

    expect(counts[`${name} insert`]).to.equal(2);
    expect(counts[`${name} find`]).to.equal(1);
    expect(Object.keys(times).sort()).to.deep.equal([`${name} find`, `${name} insert`]);
    const insert = times[`${name} insert`]!;
    expect(insert.n).to.equal(2);
    // The driver reports whole milliseconds: an insert on a fast machine may take 0.
    expect(insert.p50Ms).to.be.a('number').and.at.least(0);
    expect(insert.maxMs).to.be.at.least(insert.p50Ms);
    expect(insert.totalMs).to.be.at.least(insert.maxMs);

    const table = commandTimeTable([
      {
        operation: 'op',
        how: 'concurrency 1',
        operations: 1,
        perOperation: 3,
        byCommand: {},
        times,
      },
      {
        operation: 'untimed',
        how: 'one after another',
        operations: 1,
        perOperation: 1,
        byCommand: {},
      },
    ]);
    expect(table).to.have.length(4); // header, separator, one line per kind; untimed runs left out
    const insertLine = new RegExp(`^\\| op \\| concurrency 1 \\| ${name} insert \\| 2 \\|`);
    expect(table.slice(2).filter((line) => insertLine.test(line))).to.have.length(1);
    await db.dropCollection(name);
  });
});
