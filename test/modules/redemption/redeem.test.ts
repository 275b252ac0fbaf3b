import { expect } from '../../support/expect';
import { http, makeHousehold, makeStore, makeTerminal, makeVillage } from '../../support/factories';
import { createItem } from '../../../src/modules/stores/items.service';
import {
  account,
  entriesOf,
  expectBooksAgree,
  makeScene,
  newKey,
  redeemVia,
  stockOfSku,
  verifyTouchedChains,
} from './scene';

describe('POST /v1/redemptions', () => {
  afterEach(verifyTouchedChains);

  it('redeems a basket: 201 with the contract fields and the receipt fields, points and stock taken once', async () => {
    const s = await makeScene({
      points: 100,
      items: [
        { sku: 'RICE', name: '大米5斤', points: 20, stock: 10 },
        { sku: 'SOAP', name: '肥皂', points: 5, stock: 10 },
      ],
    });
    const [t] = s.terminals;
    const h = s.households[0]!;
    const res = await redeemVia(t!, newKey(), {
      cardNo: h.cardNo,
      items: [
        { sku: 'RICE', qty: 2 },
        { sku: 'SOAP', qty: 1 },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({
      householdId: h.id,
      points: 45,
      spendableAfter: 55,
      cardNo: h.cardNo,
      offline: false,
    });
    expect(res.body.id).to.match(/^[a-f0-9]{24}$/);
    expect(res.body.receiptNo).to.be.a('string').with.length.greaterThan(0);
    expect(res.body.store).to.deep.equal({ id: s.storeId, name: '公益超市' });
    expect(res.body.items).to.deep.equal([
      { sku: 'RICE', name: '大米5斤', qty: 2, pointsEach: 20, points: 40 },
      { sku: 'SOAP', name: '肥皂', qty: 1, pointsEach: 5, points: 5 },
    ]);
    expect(new Date(res.body.time).toString()).to.not.equal('Invalid Date');
    expect(await account(s, h.id)).to.include({ spendable: 55, merit: 100 });
    expect(await stockOfSku(s, 'RICE')).to.equal(8);
    expect(await stockOfSku(s, 'SOAP')).to.equal(9);
    const entries = await entriesOf(s, h.id);
    const last = entries[entries.length - 1]!;
    expect(last).to.include({
      type: 'redemption',
      points: -45,
      spendableDelta: -45,
      meritDelta: 0,
      sourceId: res.body.id,
    });
    const rec = await http().get(`/v1/redemptions/${res.body.id}`).set(t!.auth);
    expect(rec.status).to.equal(200);
    expect(rec.body).to.include({ status: 'confirmed', spendableAfter: 55 });
  });

  it('merges lines of the same sku into one', async () => {
    const s = await makeScene({ points: 100 });
    const res = await redeemVia(s.terminals[0]!, newKey(), {
      cardNo: s.households[0]!.cardNo,
      items: [
        { sku: 'RICE', qty: 1 },
        { sku: 'RICE', qty: 2 },
      ],
    });
    expect(res.status).to.equal(201);
    expect(res.body.items).to.deep.equal([
      { sku: 'RICE', name: '大米5斤', qty: 3, pointsEach: 10, points: 30 },
    ]);
  });

  it('replays the same key and body with the same status and body, and spends nothing more', async () => {
    const s = await makeScene({ points: 100 });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    const first = await redeemVia(t, key, body);
    const again = await redeemVia(t, key, body);
    expect(first.status).to.equal(201);
    expect(again.status).to.equal(201);
    expect(again.text).to.equal(first.text);
    expect((await account(s, h.id)).spendable).to.equal(90);
    expect(await stockOfSku(s, 'RICE')).to.equal(999);
  });

  it('returns 422 idempotency_key_reused for the same key with another body, and changes nothing', async () => {
    const s = await makeScene({ points: 100 });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    expect(
      (await redeemVia(t, key, { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] })).status,
    ).to.equal(201);
    const other = await redeemVia(t, key, { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 2 }] });
    expect(other.status).to.equal(422);
    expect(other.body.code).to.equal('idempotency_key_reused');
    expect(other.headers['content-type']).to.match(/application\/problem\+json/);
    expect((await account(s, h.id)).spendable).to.equal(90);
  });

  it('scopes keys per terminal: the same key at another terminal is another redemption', async () => {
    const s = await makeScene({ points: 100, terminals: 2 });
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    const a = await redeemVia(s.terminals[0]!, key, body);
    const b = await redeemVia(s.terminals[1]!, key, body);
    expect([a.status, b.status]).to.deep.equal([201, 201]);
    expect(a.body.id).to.not.equal(b.body.id);
    expect((await account(s, h.id)).spendable).to.equal(80);
  });

  it('returns 409 insufficient_points when the card cannot cover the basket, and nothing changes', async () => {
    const s = await makeScene({ points: 15 });
    const h = s.households[0]!;
    const res = await redeemVia(s.terminals[0]!, newKey(), {
      cardNo: h.cardNo,
      items: [{ sku: 'RICE', qty: 2 }],
    });
    expect(res.status).to.equal(409);
    expect(res.body).to.include({
      code: 'insufficient_points',
      reason: 'insufficient_points',
      status: 409,
    });
    expect(await account(s, h.id)).to.include({ spendable: 15, entryCount: 1 });
    expect(await stockOfSku(s, 'RICE')).to.equal(1000);
    await expectBooksAgree(s, { points: { [h.id]: 15 }, stock: { RICE: 1000 } });
  });

  it('returns 409 out_of_stock when any line lacks stock, and gives back the lines already taken', async () => {
    const s = await makeScene({
      points: 100,
      items: [
        { sku: 'RICE', points: 10, stock: 5 },
        { sku: 'OIL', points: 10, stock: 1 },
      ],
    });
    const h = s.households[0]!;
    const res = await redeemVia(s.terminals[0]!, newKey(), {
      cardNo: h.cardNo,
      items: [
        { sku: 'RICE', qty: 2 },
        { sku: 'OIL', qty: 2 },
      ],
    });
    expect(res.status).to.equal(409);
    expect(res.body).to.include({ code: 'out_of_stock', sku: 'OIL', available: 1 });
    expect(await stockOfSku(s, 'RICE')).to.equal(5);
    expect(await stockOfSku(s, 'OIL')).to.equal(1);
    expect(await account(s, h.id)).to.include({ spendable: 100, entryCount: 1 });
  });

  it('requires an Idempotency-Key of 1–128 visible characters', async () => {
    const s = await makeScene({ points: 100 });
    const body = { cardNo: s.households[0]!.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    for (const key of [undefined, 'x'.repeat(129), 'has space']) {
      const res = await redeemVia(s.terminals[0]!, key, body);
      expect(res.status, String(key)).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
    }
    expect((await account(s, s.households[0]!.id)).spendable).to.equal(100);
  });

  it('refuses bad bodies with validation_failed and stores nothing', async () => {
    const s = await makeScene({ points: 100 });
    const t = s.terminals[0]!;
    const cardNo = s.households[0]!.cardNo;
    const bad: unknown[] = [
      {},
      { cardNo, items: [] },
      { cardNo, items: [{ sku: 'RICE', qty: 0 }] },
      { cardNo, items: [{ sku: 'RICE', qty: 1.5 }] },
      { cardNo, items: [{ sku: 'RICE', qty: -1 }] },
      { cardNo, items: [{ sku: 'RICE', qty: 1, price: 0 }] },
      { cardNo: { $gt: '' }, items: [{ sku: 'RICE', qty: 1 }] },
      { cardNo, items: [{ sku: { $ne: 'x' }, qty: 1 }] },
      { cardNo, items: [{ sku: 'RICE', qty: 1 }], householdId: s.households[0]!.id },
      { cardNo, items: [{ sku: 'RICE', qty: 1 }], pin: '12' },
    ];
    const key = newKey();
    for (const body of bad) {
      const res = await redeemVia(t, key, body as Record<string, unknown>);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
    }
    // The key was never claimed by a bad body: it still works for a good one.
    expect((await redeemVia(t, key, { cardNo, items: [{ sku: 'RICE', qty: 1 }] })).status).to.equal(
      201,
    );
  });

  it('refuses an unknown sku with validation_failed naming the line, and frees the key', async () => {
    const s = await makeScene({ points: 100 });
    const t = s.terminals[0]!;
    const cardNo = s.households[0]!.cardNo;
    const key = newKey();
    const res = await redeemVia(t, key, {
      cardNo,
      items: [
        { sku: 'RICE', qty: 1 },
        { sku: 'NOPE', qty: 1 },
      ],
    });
    expect(res.status).to.equal(400);
    expect(res.body.errors).to.deep.equal([
      { path: 'items.1.sku', message: 'no such item in this store' },
    ]);
    expect((await redeemVia(t, key, { cardNo, items: [{ sku: 'RICE', qty: 1 }] })).status).to.equal(
      201,
    );
  });

  it('returns 404 for an unknown card', async () => {
    const s = await makeScene({ points: 100 });
    const res = await redeemVia(s.terminals[0]!, newKey(), {
      cardNo: 'NO-SUCH-CARD',
      items: [{ sku: 'RICE', qty: 1 }],
    });
    expect(res.status).to.equal(404);
    expect(res.body.code).to.equal('not_found');
  });

  it('an unknown card with an unknown sku is refused for the card, as the checks come in order, and nothing is spent', async () => {
    const s = await makeScene({ points: 100 });
    const t = s.terminals[0]!;
    const key = newKey();
    const res = await redeemVia(t, key, {
      cardNo: 'NO-SUCH-CARD',
      items: [{ sku: 'NOPE', qty: 1 }],
    });
    expect(res.status).to.equal(404);
    expect(res.body.code).to.equal('not_found');
    // The key was freed: the corrected basket goes through under it.
    const ok = await redeemVia(t, key, {
      cardNo: s.households[0]!.cardNo,
      items: [{ sku: 'RICE', qty: 1 }],
    });
    expect(ok.status, ok.text).to.equal(201);
    expect((await account(s, s.households[0]!.id)).spendable).to.equal(90);
  });

  it('is for terminals only: a person (even an admin) is refused, and so is no token', async () => {
    const s = await makeScene({ points: 100 });
    const res = await http()
      .post('/v1/redemptions')
      .set(s.admin.auth)
      .set('Idempotency-Key', newKey())
      .send({ cardNo: s.households[0]!.cardNo, items: [{ sku: 'RICE', qty: 1 }] });
    expect(res.status).to.be.oneOf([401, 403]);
    const anon = await http()
      .post('/v1/redemptions')
      .set('Idempotency-Key', newKey())
      .send({ cardNo: s.households[0]!.cardNo, items: [{ sku: 'RICE', qty: 1 }] });
    expect(anon.status).to.equal(401);
    expect((await account(s, s.households[0]!.id)).spendable).to.equal(100);
  });

  it('a revoked terminal can no longer redeem', async () => {
    const s = await makeScene({ points: 100 });
    const t = s.terminals[0]!;
    const rev = await http()
      .post(`/v1/stores/${s.storeId}/terminals/${t.id}/revocation`)
      .set(s.admin.auth);
    expect(rev.status).to.equal(200);
    const res = await redeemVia(t, newKey(), {
      cardNo: s.households[0]!.cardNo,
      items: [{ sku: 'RICE', qty: 1 }],
    });
    expect(res.status).to.equal(401);
  });

  it('serves a second village of the same store, and a household with no entries gets insufficient_points', async () => {
    const v1 = await makeVillage();
    const v2 = await makeVillage();
    const store = await makeStore([v1.id, v2.id]);
    const t = await makeTerminal(store.id);
    const h = await makeHousehold(v2.id);
    await createItem(store.id, { sku: 'PEN', name: '铅笔', points: 1, stock: 3 });
    const res = await redeemVia(t, newKey(), { cardNo: h.cardNo, items: [{ sku: 'PEN', qty: 1 }] });
    expect(res.status).to.equal(409);
    expect(res.body.code).to.equal('insufficient_points');
  });
});
