/**
 * The write lane (platform/write-lane.ts): on FerretDB-SQLite this process sends one write at a
 * time, in arrival order (W1), without queueing a write behind itself (W2); reads pass it (W3);
 * a busy refusal's pause does not hold it (W4); a group commit forms its batch when the lane is
 * given, so what arrived meanwhile goes in one command; a cache's write gives way to requests'
 * writes for a bounded time (W5). The driver tests use the process's lane
 * set to one permit, on either backend, and restore it after.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { expect } from '../support/expect';
import { http } from '../support/factories';
import { isFerretDbSqlite } from '../../src/platform/db';
import { GroupCommit } from '../../src/platform/group-commit';
import { DEFER_MAX_MS, WriteLane, writeLane } from '../../src/platform/write-lane';

type Doc = { _id: string; n: number };
const collection = () =>
  mongoose.connection.db!.collection<Doc>(`write_lane_${randomBytes(4).toString('hex')}`);

/** Holds the process's lane until the returned function is called. */
async function holdLane(): Promise<() => Promise<void>> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inLane = new Promise<void>((r) => (entered = r));
  const done = writeLane.run(async () => {
    entered();
    await held;
  });
  await inLane;
  return async () => {
    release();
    await done;
  };
}

describe('platform: the write lane', () => {
  let permits: number;
  beforeEach(() => {
    permits = writeLane.permits;
    writeLane.configure(1);
  });
  afterEach(() => writeLane.configure(permits));

  it('is one permit on FerretDB-SQLite and none on FerretDB-PostgreSQL or MongoDB, unless DB_WRITE_LANES says', async () => {
    const sqlite =
      !process.env.MONGODB_URI && (process.env.FERRETDB_HANDLER ?? 'sqlite') === 'sqlite';
    expect(await isFerretDbSqlite()).to.equal(sqlite);
    const setting = process.env.DB_WRITE_LANES;
    const expected = setting && setting !== 'auto' ? Number(setting) : sqlite ? 1 : 0;
    expect(permits).to.equal(expected);
  });

  it('runs writes one at a time in arrival order, and a write started inside the lane does not wait for itself', async () => {
    const lane = new WriteLane(1);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        lane.run(async () => {
          running++;
          most = Math.max(most, running);
          await sleep(i % 3);
          // Nested, as the driver's insertMany runs its bulkWrite: must not queue behind itself.
          await lane.run(() => sleep(1));
          order.push(i);
          running--;
        }),
      ),
    );
    expect(most).to.equal(1);
    expect(order).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    expect(lane.stats.queued).to.equal(19);
  });

  it('holds every kind of driver write while the lane is taken, lets reads through, and sends them all once it is free', async () => {
    const coll = collection();
    await coll.insertOne({ _id: 'seed', n: 0 });
    const release = await holdLane();
    const writes = [
      coll.insertOne({ _id: 'a', n: 1 }),
      coll.insertMany([
        { _id: 'b', n: 2 },
        { _id: 'c', n: 3 },
      ]),
      coll.updateOne({ _id: 'seed' }, { $set: { n: 10 } }),
      coll.bulkWrite([{ insertOne: { document: { _id: 'd', n: 4 } } }]),
      coll.deleteMany({ _id: 'nothing' }),
      coll.findOneAndUpdate({ _id: 'seed' }, { $inc: { n: 1 } }),
    ];
    await sleep(50);
    // W3: a read is answered while the lane is held, and sees none of the queued writes.
    expect(await coll.find({}).toArray()).to.deep.equal([{ _id: 'seed', n: 0 }]);
    await release();
    await Promise.all(writes);
    const docs = await coll.find({}).sort({ _id: 1 }).toArray();
    expect(docs.map((d) => d._id)).to.deep.equal(['a', 'b', 'c', 'd', 'seed']);
    expect(docs.find((d) => d._id === 'seed')!.n).to.equal(11);
  });

  it('a group commit forms its batch when the lane is given: the documents that arrived while it was held go as one command', async () => {
    const coll = collection();
    const sizes: number[] = [];
    const batch = new GroupCommit<Doc>(async (docs) => {
      sizes.push(docs.length);
      await coll.insertMany(docs, { ordered: false });
    });
    const release = await holdLane();
    const first = Array.from({ length: 3 }, (_, i) => batch.insert({ _id: `x${i}`, n: i }));
    await sleep(5);
    const later = Array.from({ length: 7 }, (_, i) => batch.insert({ _id: `y${i}`, n: i }));
    await sleep(5);
    await release();
    await Promise.all([...first, ...later]);
    expect(sizes).to.deep.equal([10]);
    expect(await coll.countDocuments({})).to.equal(10);
  });

  it('a batch refused as busy waits out its pause with the lane free (W4)', async () => {
    let sends = 0;
    const batch = new GroupCommit<Doc>(async () => {
      sends++;
      if (sends === 1) throw new Error('database is locked (5) (SQLITE_BUSY)');
    });
    const written = batch.insert({ _id: 'z', n: 1 });
    while (sends === 0) await sleep(1);
    // The first send was refused and its document waits at least 10 ms before it is sent again.
    const asked = Date.now();
    await writeLane.run(() => Promise.resolve());
    const waited = Date.now() - asked;
    expect(sends, 'the lane was given before the pause ended').to.equal(1);
    expect(waited).to.be.lessThan(10);
    await written;
    expect(sends).to.equal(2);
  });

  describe("a deferrable write (a cache's) gives way to requests' writes (W5)", () => {
    /** A lane of one permit held until the returned function is called. */
    function heldLane(deferMaxMs: number) {
      const lane = new WriteLane(1);
      lane.deferMaxMs = deferMaxMs;
      let release!: () => void;
      const held = lane.run(() => new Promise<void>((r) => (release = r)));
      return { lane, release: () => (release(), held) };
    }

    it('runs at once on an idle lane', async () => {
      const lane = new WriteLane(1);
      const ran: string[] = [];
      await lane.run(() => Promise.resolve(ran.push('cache')), { since: () => Date.now() });
      expect(ran).to.deep.equal(['cache']);
      expect(lane.stats.queued).to.equal(0);
    });

    it("lets the requests' writes that wait go first, then runs", async () => {
      const { lane, release } = heldLane(60_000);
      const order: string[] = [];
      const cache = lane.run(() => Promise.resolve(order.push('cache')), { since: Date.now });
      const requests = ['a', 'b', 'c'].map((n) => lane.run(() => Promise.resolve(order.push(n))));
      await release();
      await Promise.all([cache, ...requests]);
      // Without W5 the lane is first-in, first-out: the cache's write would have gone first.
      expect(order).to.deep.equal(['a', 'b', 'c', 'cache']);
      expect(lane.stats.gaveWay).to.equal(3);
    });

    it('goes first once its oldest document has waited the most it may', async () => {
      const { lane, release } = heldLane(1_000);
      const order: string[] = [];
      const waitingSince = Date.now() - 1_000;
      const cache = lane.run(() => Promise.resolve(order.push('cache')), {
        since: () => waitingSince,
      });
      const requests = ['a', 'b'].map((n) => lane.run(() => Promise.resolve(order.push(n))));
      await release();
      await Promise.all([cache, ...requests]);
      expect(order).to.deep.equal(['cache', 'a', 'b']);
    });

    it('is not starved by a lane that never empties: it runs once it has waited the most it may', async () => {
      const { lane, release } = heldLane(50);
      const order: string[] = [];
      const asked = Date.now();
      const cache = lane.run(() => Promise.resolve(order.push('cache')), { since: () => asked });
      // 60 requests' writes of at least 5 ms each, all waiting: 300 ms of writes at the least.
      const requests = Array.from({ length: 60 }, (_, i) =>
        lane.run(async () => {
          await sleep(5);
          order.push(`r${i}`);
        }),
      );
      await release();
      await Promise.all([cache, ...requests]);
      // After 50 ms it goes first: by then at most 10 of the 5 ms writes (and the held one) ran.
      expect(order.indexOf('cache')).to.be.within(1, 12);
    });

    it('merges the writes of one document that arrive while it gives way (a coalescing group commit)', async () => {
      const coll = collection();
      const sent: number[][] = [];
      const cache = new GroupCommit<Doc>(
        async (docs) => {
          sent.push(docs.map((d) => d.n));
          await coll.bulkWrite(
            docs.map((d) => ({
              updateOne: { filter: { _id: d._id }, update: { $set: { n: d.n } }, upsert: true },
            })),
            { ordered: false },
          );
        },
        {
          inFlight: 1,
          deferrable: true,
          coalesce: { key: (d) => d._id, keep: (a, b) => (b.n >= a.n ? b : a) },
        },
      );
      writeLane.deferMaxMs = 60_000;
      const release = await holdLane();
      try {
        const first = coll.insertOne({ _id: 'request-1', n: 1 });
        const cached = [cache.insert({ _id: 'household', n: 1 })];
        await sleep(5); // the cache's batch asks for the lane (next turn), behind the first request
        // A request's write that arrives after the cache's and, while it runs, a newer head.
        const second = writeLane.run(async () => {
          cached.push(cache.insert({ _id: 'household', n: 2 }));
          await coll.insertOne({ _id: 'request-2', n: 2 });
        });
        await sleep(20);
        await release();
        await Promise.all([first, second, ...cached]);
      } finally {
        writeLane.deferMaxMs = DEFER_MAX_MS;
      }
      // FIFO would have sent 1, then 2: two updates. It gave way, so one update, the newest.
      expect(sent).to.deep.equal([[2]]);
      expect(await coll.findOne({ _id: 'household' })).to.deep.equal({ _id: 'household', n: 2 });
    });
  });

  it('/metrics shows the lane: its permits and the writes that waited for one', async () => {
    const coll = collection();
    const queuedBefore = writeLane.stats.queued;
    const release = await holdLane();
    const write = coll.insertOne({ _id: 'm', n: 1 });
    await sleep(20);
    const during = await http().get('/metrics');
    expect(during.text).to.include('db_write_lane{what="permits"} 1');
    expect(during.text).to.include('db_write_lane{what="waiting"} 1');
    await release();
    await write;
    expect(writeLane.stats.queued).to.equal(queuedBefore + 1);
    const after = await http().get('/metrics');
    expect(after.text).to.include(`db_write_lane{what="queued"} ${queuedBefore + 1}`);
    expect(after.text).to.include('db_write_lane{what="waiting"} 0');
    expect(after.text).to.include(`db_write_lane{what="gave_way"} ${writeLane.stats.gaveWay}`);
  });
});
