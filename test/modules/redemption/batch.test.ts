import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { clock } from '../../../src/platform/clock';
import {
  account,
  entriesOf,
  expectBooksAgree,
  makeScene,
  newKey,
  stockOfSku,
  type Terminal,
  verifyTouchedChains,
} from './scene';

const realNow = clock.now;
const NOW = Date.parse('2030-07-10T06:00:00Z');

function upload(t: Terminal, redemptions: unknown[]) {
  return http().post('/v1/redemptions/batch').set(t.auth).send({ redemptions });
}
const at = (minutesAgo: number) => new Date(NOW - minutesAgo * 60_000).toISOString();

describe('POST /v1/redemptions/batch (offline counters)', () => {
  beforeEach(() => {
    clock.now = () => new Date(NOW);
  });
  afterEach(() => {
    clock.now = realNow;
  });
  afterEach(verifyTouchedChains);

  it('processes uploads in the order they happened offline; one that can no longer be covered is flagged, never dropped, and the balance never goes below 0', async () => {
    const s = await makeScene({ points: 25, items: [{ sku: 'RICE', points: 10, stock: 10 }] });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const entries = [
      // Sent out of order: the 20-point one happened last and can no longer be covered.
      { key: newKey(), offlineAt: at(10), cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 2 }] },
      { key: newKey(), offlineAt: at(50), cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] },
      { key: newKey(), offlineAt: at(30), cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] },
    ];
    const res = await upload(t, entries);
    expect(res.status).to.equal(200);
    expect(
      res.body.results.map((r: { key: string; outcome: string; status: number }) => [
        r.key,
        r.outcome,
        r.status,
      ]),
    ).to.deep.equal([
      [entries[0]!.key, 'flagged', 409],
      [entries[1]!.key, 'redeemed', 201],
      [entries[2]!.key, 'redeemed', 201],
    ]);
    expect(res.body.results[0].body.code).to.equal('insufficient_points');
    expect(res.body.results[1].body).to.include({
      offline: true,
      time: entries[1]!.offlineAt,
      spendableAfter: 15,
    });
    expect(res.body.results[2].body.spendableAfter).to.equal(5);
    expect(await account(s, h.id)).to.include({ spendable: 5 });
    expect(await stockOfSku(s, 'RICE')).to.equal(8);
    await entriesOf(s, h.id);

    const flags = await http().get(`/v1/stores/${s.storeId}/redemption-flags`).set(t.auth);
    expect(flags.status).to.equal(200);
    expect(flags.body.items).to.have.length(1);
    expect(flags.body.items[0]).to.include({
      key: entries[0]!.key,
      code: 'insufficient_points',
      householdId: h.id,
      cardNo: h.cardNo,
      points: 20,
      offlineAt: entries[0]!.offlineAt,
    });
    expect(flags.body.items[0].resolution).to.equal(null);

    // Uploading the same batch again changes nothing and answers the same.
    const again = await upload(t, entries);
    expect(again.body).to.deep.equal(res.body);
    expect(
      (await http().get(`/v1/stores/${s.storeId}/redemption-flags`).set(s.admin.auth)).body.items,
    ).to.have.length(1);
    await expectBooksAgree(s, { points: { [h.id]: 25 }, stock: { RICE: 10 } });
  });

  it('flags offline redemptions refused for any reason (unknown card, out of stock, unknown item), and the store manager resolves each once', async () => {
    const s = await makeScene({ points: 100, items: [{ sku: 'OIL', points: 10, stock: 1 }] });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const res = await upload(t, [
      { key: 'a', offlineAt: at(5), cardNo: 'LOST-CARD-1', items: [{ sku: 'OIL', qty: 1 }] },
      { key: 'b', offlineAt: at(4), cardNo: h.cardNo, items: [{ sku: 'OIL', qty: 2 }] },
      { key: 'c', offlineAt: at(3), cardNo: h.cardNo, items: [{ sku: 'GONE', qty: 1 }] },
      { key: 'd', offlineAt: at(2), cardNo: h.cardNo, items: [{ sku: 'OIL', qty: 1 }] },
    ]);
    expect(
      res.body.results.map(
        (r: { outcome: string; body: { code?: string } }) => `${r.outcome}:${r.body.code ?? ''}`,
      ),
    ).to.deep.equal([
      'flagged:not_found',
      'flagged:out_of_stock',
      'flagged:validation_failed',
      'redeemed:',
    ]);
    const flags = await http().get(`/v1/stores/${s.storeId}/redemption-flags`).set(t.auth);
    expect(flags.body.items.map((f: { key: string }) => f.key).sort()).to.deep.equal([
      'a',
      'b',
      'c',
    ]);
    const flagId = flags.body.items.find((f: { key: string }) => f.key === 'b').id;
    const resolve = () =>
      http()
        .post(`/v1/stores/${s.storeId}/redemption-flags/${flagId}/resolution`)
        .set(t.auth)
        .send({ note: '农户已补交积分' });
    const results = await Promise.all([resolve(), resolve(), resolve()]);
    expect(results.map((r) => r.status).sort()).to.deep.equal([201, 409, 409]);
    const ok = results.find((r) => r.status === 201)!;
    expect(ok.body.resolution).to.include({ note: '农户已补交积分', by: t.id });
    const open = await http().get(`/v1/stores/${s.storeId}/redemption-flags`).set(t.auth);
    expect(open.body.items.map((f: { key: string }) => f.key).sort()).to.deep.equal(['a', 'c']);
    const all = await http()
      .get(`/v1/stores/${s.storeId}/redemption-flags?status=all`)
      .set(s.admin.auth);
    expect(all.body.items).to.have.length(3);
    const other = await makeScene();
    expect(
      (
        await http()
          .post(`/v1/stores/${s.storeId}/redemption-flags/${flagId}/resolution`)
          .set(other.terminals[0]!.auth)
          .send({ note: 'x' })
      ).status,
    ).to.equal(404);
  });

  it('a key first used online and then in a batch with an offline time is another request: 422 for that entry', async () => {
    const s = await makeScene({ points: 100 });
    const t = s.terminals[0]!;
    const key = newKey();
    const cardNo = s.households[0]!.cardNo;
    const online = await http()
      .post('/v1/redemptions')
      .set(t.auth)
      .set('Idempotency-Key', key)
      .send({ cardNo, items: [{ sku: 'RICE', qty: 1 }] });
    expect(online.status).to.equal(201);
    const res = await upload(t, [
      { key, offlineAt: at(1), cardNo, items: [{ sku: 'RICE', qty: 1 }] },
    ]);
    expect(res.body.results[0]).to.include({ outcome: 'rejected', status: 422 });
    expect((await account(s, s.households[0]!.id)).spendable).to.equal(90);
  });

  it('refuses a malformed batch with 400 and stores nothing; an offline time in the future or a month old is flagged', async () => {
    const s = await makeScene({ points: 100 });
    const t = s.terminals[0]!;
    const cardNo = s.households[0]!.cardNo;
    const good = { key: newKey(), offlineAt: at(1), cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    for (const body of [
      {},
      { redemptions: [] },
      { redemptions: [{ ...good, offlineAt: 'yesterday' }] },
      { redemptions: [{ ...good, key: '' }] },
      { redemptions: [{ ...good, extra: 1 }] },
      { redemptions: Array.from({ length: 201 }, () => good) },
    ]) {
      const res = await http().post('/v1/redemptions/batch').set(t.auth).send(body);
      expect(res.status).to.equal(400);
    }
    expect((await account(s, s.households[0]!.id)).spendable).to.equal(100);
    const res = await upload(t, [
      { ...good, key: newKey(), offlineAt: new Date(NOW + 60 * 60_000).toISOString() },
      { ...good, key: newKey(), offlineAt: new Date(NOW - 31 * 24 * 60 * 60_000).toISOString() },
    ]);
    expect(res.body.results.map((r: { outcome: string }) => r.outcome)).to.deep.equal([
      'flagged',
      'flagged',
    ]);
    expect((await account(s, s.households[0]!.id)).spendable).to.equal(100);
  });
});
