/**
 * The in-flight marker and the key's claim are inserted side by side. A crash may therefore
 * leave a claim without its marker (nothing recorded or taken under it), and a duplicate may
 * find the claim before the marker has landed: the claim's own owner then says whether its
 * request is alive.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import {
  fingerprintOf,
  IN_FLIGHT_WAIT_MS,
  RECOVERY_AGE_MS,
  recoverRedemptions,
} from '../../../src/modules/redemption/redemption.service';
import { holdRequest, OWNER_ID, releaseRequest } from '../../../src/modules/redemption/liveness';
import {
  Redemption,
  RedemptionEvent,
  RedemptionKey,
  type RedemptionEventDoc,
  type RedemptionKeyDoc,
} from '../../../src/modules/redemption/redemption.model';
import {
  Inflight,
  InflightBatch,
  RedemptionLease,
  type InflightBatchDoc,
} from '../../../src/modules/redemption/inflight.model';
import { redemptionFaults, redemptionTuning } from '../../../src/platform/faults';
import { settleBackgroundWrites } from '../../../src/platform/background';
import {
  claimInserts,
  deleteMarker,
  eventInserts,
  holdsMarker,
  insertMarker,
} from '../../../src/modules/redemption/inserts';
import {
  account,
  expectBooksAgree,
  makeScene,
  newKey,
  redeemVia,
  verifyTouchedChains,
  type Terminal,
} from './scene';

/** In-flight markers naming a redemption, in either form (a test-only scan). */
async function markersNaming(redemptionId: string): Promise<number> {
  const batches = await InflightBatch.find({}).lean<InflightBatchDoc[]>();
  const inBatches = batches.filter((b) => b.markers.some((m) => m.redemptionId === redemptionId));
  return inBatches.length + (await Inflight.countDocuments({ _id: redemptionId }));
}

/** Writes a pending claim with no marker, as a request that stopped between the two inserts. */
async function claimWithoutMarker(
  t: Terminal,
  key: string,
  body: { cardNo: string; items: { sku: string; qty: number }[] },
  owner: string,
): Promise<string> {
  const redemptionId = new Types.ObjectId().toHexString();
  await RedemptionKey.create([
    {
      _id: `${t.id}:${key}#0`,
      terminalId: t.id,
      key,
      generation: 0,
      fingerprint: fingerprintOf({ ...body, key }),
      redemptionId,
      status: 'pending',
      owner,
      createdAt: new Date(),
    },
  ]);
  return redemptionId;
}

describe('redemption claim and marker side by side', () => {
  afterEach(() => {
    redemptionTuning.staleAfterMs = RECOVERY_AGE_MS;
    redemptionTuning.inFlightWaitMs = IN_FLIGHT_WAIT_MS;
  });
  afterEach(verifyTouchedChains);

  it('a claim whose marker never landed and whose owner is gone: a duplicate waits while it is young, the retry after the recovery age drops it and redeems once', async () => {
    const s = await makeScene({ points: 100, items: [{ sku: 'RICE', points: 20, stock: 10 }] });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 2 }] };
    const rid = await claimWithoutMarker(t, key, body, 'gone-host:1:00000000');

    redemptionTuning.inFlightWaitMs = 100;
    const young = await redeemVia(t, key, body);
    expect(young.status).to.equal(409);
    expect(young.body.code).to.equal('conflict');
    // Nothing for the sweep: it reads markers, and nothing was taken under this claim.
    expect(await recoverRedemptions(0)).to.include({ keys: 0, errors: 0 });

    redemptionTuning.staleAfterMs = 0; // as if RECOVERY_AGE_MS had passed
    const retry = await redeemVia(t, key, body);
    expect(retry.status, retry.text).to.equal(201);
    expect((await redeemVia(t, key, body)).text).to.equal(retry.text);
    const old = await RedemptionKey.findById(`${t.id}:${key}#0`).lean<RedemptionKeyDoc>();
    expect(old).to.include({ status: 'dropped', redemptionId: rid });
    expect(await Redemption.findById(rid).lean()).to.include({ tombstone: true });
    await settleBackgroundWrites(); // a finished request's marker is deleted after its answer
    expect((await markersNaming(rid)) + (await markersNaming(retry.body.id as string))).to.equal(0);
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10 } });
    expect(await account(s, h.id)).to.include({ spendable: 60 });
  });

  it('a claim whose marker is still on its way is alive while its owner holds the request: a duplicate is told the key is in flight and nothing is recovered', async () => {
    const s = await makeScene({ points: 100, items: [{ sku: 'RICE', points: 20, stock: 10 }] });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    const rid = await claimWithoutMarker(t, key, body, OWNER_ID);
    holdRequest(rid);
    try {
      redemptionTuning.staleAfterMs = 0; // every claim old enough to be recovered
      redemptionTuning.inFlightWaitMs = 100;
      const dup = await redeemVia(t, key, body);
      expect(dup.status, dup.text).to.equal(409);
      expect(dup.body.code).to.equal('conflict');
      expect(await Redemption.findById(rid).lean(), 'no tombstone').to.equal(null);
      const claim = await RedemptionKey.findById(`${t.id}:${key}#0`).lean<RedemptionKeyDoc>();
      expect(claim?.status).to.equal('pending');
    } finally {
      releaseRequest(rid);
    }
    // Let go (the request ended without a marker): the retry recovers the claim and redeems.
    const retry = await redeemVia(t, key, body);
    expect(retry.status, retry.text).to.equal(201);
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10 } });
  });

  it('claims of concurrent requests go out together (group commit), and each is still decided alone: of ten requests per key, one spends', async () => {
    const s = await makeScene({
      points: 1000,
      households: 4,
      terminals: 4,
      items: [{ sku: 'RICE', points: 10, stock: 1000 }],
    });
    const before = { claims: claimInserts.stats.largest, events: eventInserts.stats.largest };
    const keys = s.terminals.map(() => newKey());
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const n = i % 4;
        return redeemVia(s.terminals[n]!, keys[n]!, {
          cardNo: s.households[n]!.cardNo,
          items: [{ sku: 'RICE', qty: 1 }],
        });
      }),
    );
    expect(claimInserts.stats.largest, 'some claims went out in one batch').to.be.greaterThan(1);
    expect(Math.max(before.events, eventInserts.stats.largest)).to.be.at.least(1);
    const ok = results.filter((r) => r.status === 201);
    for (const r of results) expect([201, 409], r.text).to.include(r.status);
    // Each key spent once: its 201s are replays of one redemption.
    expect(new Set(ok.map((r) => r.body.id as string)).size).to.equal(4);
    await settleBackgroundWrites();
    expect(await InflightBatch.countDocuments({}), 'every request ended: no marker left').to.equal(
      0,
    );
    await expectBooksAgree(s, {
      points: Object.fromEntries(s.households.map((h) => [h.id, 1000])),
      stock: { RICE: 1000 },
    });
  });

  it('a settled redemption whose marker outlives its request (its tail cut short, or its process gone) is replayed at once by a retry, which finishes the tail; while the request is alive the retry waits', async () => {
    const s = await makeScene({ points: 100, items: [{ sku: 'RICE', points: 20, stock: 10 }] });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    redemptionTuning.inFlightWaitMs = 100; // a retry that waited would be told 409 at once
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] };

    // This process: the request settled and stopped before its tail (an error after `settled`).
    const key = newKey();
    redemptionFaults.after = (step) => {
      if (step === 'settled') throw new Error('simulated crash after settling');
    };
    let cut: Awaited<ReturnType<typeof redeemVia>>;
    try {
      cut = await redeemVia(t, key, body);
    } finally {
      delete redemptionFaults.after;
    }
    expect(cut.status).to.equal(500);
    const claimId = `${t.id}:${key}#0`;
    const rid = (await RedemptionKey.findById(claimId).lean<RedemptionKeyDoc>())!.redemptionId;
    expect(await markersNaming(rid), 'its marker stays').to.equal(1);
    holdRequest(rid); // while its request is alive, the retry waits and is told so
    try {
      const waiting = await redeemVia(t, key, body);
      expect(waiting.status, waiting.text).to.equal(409);
      expect(await markersNaming(rid), 'the live request’s marker stays').to.equal(1);
    } finally {
      releaseRequest(rid);
    }
    const retry = await redeemVia(t, key, body);
    expect(retry.status, retry.text).to.equal(201);
    expect(retry.body.id).to.equal(rid);
    expect(await markersNaming(rid), 'the marker is gone').to.equal(0);
    expect((await RedemptionKey.findById(claimId).lean<RedemptionKeyDoc>())?.status).to.equal(
      'done',
    );

    // Another process: its request settled, then the process went, leaving its marker.
    const key2 = newKey();
    const first = await redeemVia(t, key2, body);
    expect(first.status, first.text).to.equal(201);
    await settleBackgroundWrites();
    const rid2 = first.body.id as string;
    const claimId2 = `${t.id}:${key2}#0`;
    const gone = 'gone-host:1:00000000';
    await RedemptionKey.collection.updateOne({ _id: claimId2 } as object, {
      $set: { owner: gone },
    });
    await InflightBatch.create([
      {
        _id: new Types.ObjectId().toHexString(),
        owner: gone,
        createdAt: new Date(),
        markers: [{ redemptionId: rid2, keyId: claimId2 }],
      },
    ]);
    const replay = await redeemVia(t, key2, body);
    expect(replay.status, replay.text).to.equal(201);
    expect(replay.text).to.equal(first.text);
    expect((await RedemptionKey.findById(claimId2).lean<RedemptionKeyDoc>())?.status).to.equal(
      'done',
    );
    // The gone process's batch is taken up by the next sweep, then deleted.
    expect(await recoverRedemptions(0)).to.include({ keys: 1, errors: 0, live: 0 });
    expect(await markersNaming(rid2)).to.equal(0);
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10 } });
    expect(await account(s, h.id)).to.include({ spendable: 60 });
  });

  it('the settled event stores the response as the JSON text a replay answers, byte for byte; an event settled before, its response a nested document, is replayed the same', async () => {
    const s = await makeScene({ points: 100, items: [{ sku: 'RICE', points: 20, stock: 10 }] });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    const settledOf = (rid: string) =>
      RedemptionEvent.collection.findOne({ _id: `${rid}:settled` } as object) as Promise<
        (RedemptionEventDoc & Record<string, unknown>) | null
      >;

    // Stored as text: one string field, the very response.
    const key = newKey();
    const first = await redeemVia(t, key, body);
    expect(first.status, first.text).to.equal(201);
    await settleBackgroundWrites();
    const stored = (await settledOf(first.body.id as string))!;
    expect(stored.responseText).to.be.a('string');
    expect(stored).not.to.have.property('response');
    expect(JSON.parse(stored.responseText!)).to.deep.equal({ status: 201, body: first.body });
    const replay = await redeemVia(t, key, body);
    expect(replay.status).to.equal(201);
    expect(replay.text).to.equal(first.text);

    // A refusal too: the stored 409 is replayed as it was first answered.
    const refusedKey = newKey();
    const tooMany = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 11 }] };
    const refused = await redeemVia(t, refusedKey, tooMany);
    expect(refused.status, refused.text).to.equal(409);
    await settleBackgroundWrites();
    const again = await redeemVia(t, refusedKey, tooMany);
    expect([again.status, again.text]).to.deep.equal([409, refused.text]);

    // Written before the text: the same response as a nested document.
    const oldKey = newKey();
    const old = await redeemVia(t, oldKey, body);
    expect(old.status, old.text).to.equal(201);
    await settleBackgroundWrites();
    const oldId = `${old.body.id as string}:settled`;
    const oldStored = (await settledOf(old.body.id as string))!;
    await RedemptionEvent.collection.updateOne({ _id: oldId } as object, {
      $set: { response: JSON.parse(oldStored.responseText!) as unknown },
      $unset: { responseText: '' },
    });
    expect((await settledOf(old.body.id as string))!).not.to.have.property('responseText');
    const oldReplay = await redeemVia(t, oldKey, body);
    expect(oldReplay.status).to.equal(201);
    expect(oldReplay.text).to.equal(old.text);
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10 } });
    expect(await account(s, h.id)).to.include({ spendable: 60 });
  });

  it('a marker in the one-document form written before batches is still recovered, and deleted', async () => {
    const s = await makeScene({ points: 100, items: [{ sku: 'RICE', points: 20, stock: 10 }] });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    const gone = 'gone-host:1:00000000';
    const rid = await claimWithoutMarker(t, key, body, gone);
    await Inflight.create([
      { _id: rid, keyId: `${t.id}:${key}#0`, owner: gone, createdAt: new Date() },
    ]);
    expect(await recoverRedemptions(0)).to.include({ keys: 1, errors: 0 });
    expect(await markersNaming(rid)).to.equal(0);
    const claim = await RedemptionKey.findById(`${t.id}:${key}#0`).lean<RedemptionKeyDoc>();
    expect(claim?.status).to.equal('dropped');
    const retry = await redeemVia(t, key, body);
    expect(retry.status, retry.text).to.equal(201);
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10 } });
  });

  it('a sweep takes out of a batch the markers it took up while another of the batch is alive, and takes none up twice', async () => {
    const s = await makeScene({ points: 100, items: [{ sku: 'RICE', points: 20, stock: 10 }] });
    const t = s.terminals[0]!;
    const body = { cardNo: s.households[0]!.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    const other = 'other-host:2:00000000';
    const [live, dead] = [newKey(), newKey()];
    const liveId = await claimWithoutMarker(t, live, body, other);
    const deadId = await claimWithoutMarker(t, dead, body, other);
    // The other process is alive (its lease renewed now, a sweep's age is 60 s) and vouches for
    // one of its two requests (the other threw).
    await RedemptionLease.create([{ _id: other, renewedAt: new Date(), redemptionIds: [liveId] }]);
    await InflightBatch.create([
      {
        _id: new Types.ObjectId().toHexString(),
        owner: other,
        createdAt: new Date(Date.now() - 120_000), // two minutes old
        markers: [
          { redemptionId: liveId, keyId: `${t.id}:${live}#0` },
          { redemptionId: deadId, keyId: `${t.id}:${dead}#0` },
        ],
      },
    ]);
    expect(await recoverRedemptions(60_000)).to.include({ keys: 1, live: 1, errors: 0 });
    expect(await markersNaming(deadId), 'taken out of the batch').to.equal(0);
    expect(await markersNaming(liveId)).to.equal(1);
    expect(await recoverRedemptions(60_000)).to.include({ keys: 0, live: 1, errors: 0 });
    // The other process stops vouching: the last marker is taken up and the batch goes.
    await RedemptionLease.updateOne({ _id: other }, { $set: { redemptionIds: [] } });
    expect(await recoverRedemptions(60_000)).to.include({ keys: 1, live: 0, errors: 0 });
    expect(await markersNaming(liveId)).to.equal(0);
    expect(await InflightBatch.countDocuments({ owner: other })).to.equal(0);
    for (const key of [live, dead]) {
      const claim = await RedemptionKey.findById(`${t.id}:${key}#0`).lean<RedemptionKeyDoc>();
      expect(claim?.status).to.equal('dropped');
    }
  });

  it('the markers handed in during one turn are one document, deleted only once every one of them is forgotten (M2)', async () => {
    const ids = Array.from({ length: 4 }, () => new Types.ObjectId().toHexString());
    const createdAt = new Date();
    await Promise.all(
      ids.map((id) => insertMarker({ redemptionId: id, keyId: `k:${id}`, createdAt })),
    );
    const batches = (await InflightBatch.find({}).lean<InflightBatchDoc[]>()).filter((b) =>
      b.markers.some((m) => m.redemptionId === ids[0]),
    );
    expect(batches).to.have.length(1);
    expect(batches[0]!.markers.map((m) => m.redemptionId)).to.deep.equal(ids);
    expect(batches[0]!.owner).to.equal(OWNER_ID);
    for (const id of ids) expect(holdsMarker(id)).to.equal(true);
    for (const id of ids.slice(0, 3)) await deleteMarker(id);
    expect(await markersNaming(ids[3]!), 'one request still working: the batch stays').to.equal(1);
    // A sweep meanwhile leaves it: the working request is alive, the others are over.
    holdRequest(ids[3]!);
    try {
      expect(await recoverRedemptions(0)).to.include({ keys: 0, errors: 0, live: 1 });
    } finally {
      releaseRequest(ids[3]!);
    }
    expect(await markersNaming(ids[3]!)).to.equal(1);
    await deleteMarker(ids[3]!);
    expect(await markersNaming(ids[3]!), 'the last one forgotten: the batch is gone').to.equal(0);
    expect(holdsMarker(ids[3]!)).to.equal(false);
  });
});
