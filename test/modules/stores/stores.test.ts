import { expect } from '../../support/expect';
import { http, makeAdmin, makeStore, makeTerminal, makeVillage } from '../../support/factories';

async function storeScene() {
  const admin = await makeAdmin();
  const village = await makeVillage();
  const store = await makeStore([village.id]);
  return { admin, village, store };
}

const signIn = (clientId: string, clientSecret: string) =>
  http().post('/v1/auth/token').send({ grantType: 'client_credentials', clientId, clientSecret });

describe('stores, items and terminals', () => {
  describe('POST /v1/stores/:id/items', () => {
    it('adds an item with its opening stock (201); GET lists the catalogue with stock; the opening stock is the first movement', async () => {
      const { admin, store } = await storeScene();
      const res = await http()
        .post(`/v1/stores/${store.id}/items`)
        .set(admin.auth)
        .send({ sku: 'RICE-5', name: '大米5斤', points: 25, stock: 40 });
      expect(res.status).to.equal(201);
      expect(res.body).to.include({
        storeId: store.id,
        sku: 'RICE-5',
        name: '大米5斤',
        points: 25,
        stock: 40,
      });
      await http()
        .post(`/v1/stores/${store.id}/items`)
        .set(admin.auth)
        .send({ sku: 'OIL', name: '食用油', points: 60, stock: 0 });
      const list = await http().get(`/v1/stores/${store.id}/items`).set(admin.auth);
      expect(
        list.body.items.map((i: { sku: string; stock: number }) => [i.sku, i.stock]),
      ).to.deep.equal([
        ['OIL', 0],
        ['RICE-5', 40],
      ]);
      const moves = await http()
        .get(`/v1/stores/${store.id}/items/RICE-5/movements`)
        .set(admin.auth);
      expect(moves.body.items).to.have.length(1);
      expect(moves.body.items[0]).to.include({
        seq: 1,
        kind: 'initial',
        delta: 40,
        stockAfter: 40,
      });
    });

    it('the same create again answers the same item (a retry); another create of the sku is 409, also when ten arrive at once (exactly one 201)', async () => {
      const { admin, store } = await storeScene();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          http()
            .post(`/v1/stores/${store.id}/items`)
            .set(admin.auth)
            .send({ sku: 'SOAP', name: '肥皂', points: 5, stock: 10 + i }),
        ),
      );
      expect(results.filter((r) => r.status === 201)).to.have.length(1);
      expect(results.filter((r) => r.status === 409)).to.have.length(9);
      const item = await http().get(`/v1/stores/${store.id}/items/SOAP`).set(admin.auth);
      const winner = results.find((r) => r.status === 201)!.body;
      expect(item.body.stock).to.equal(winner.stock);
      const retry = await http()
        .post(`/v1/stores/${store.id}/items`)
        .set(admin.auth)
        .send({ sku: 'SOAP', name: '肥皂', points: 5, stock: winner.stock });
      expect(retry.status).to.equal(201);
      expect(retry.body.id).to.equal(winner.id);
      const renamed = await http()
        .post(`/v1/stores/${store.id}/items`)
        .set(admin.auth)
        .send({ sku: 'SOAP', name: '香皂', points: 5, stock: winner.stock });
      expect(renamed.status).to.equal(409);
      const moves = await http().get(`/v1/stores/${store.id}/items/SOAP/movements`).set(admin.auth);
      expect(moves.body.items).to.have.length(1);
    });

    it('refuses bad items with 400 and stores nothing; only an admin adds items; an unknown store is 404', async () => {
      const { admin, store } = await storeScene();
      for (const body of [
        { sku: 'A', name: '甲', points: 0, stock: 1 },
        { sku: 'A', name: '甲', points: 1.5, stock: 1 },
        { sku: 'A', name: '甲', points: 1, stock: -1 },
        { sku: 'A B', name: '甲', points: 1, stock: 1 },
        { sku: 'A', name: '', points: 1, stock: 1 },
        { sku: { $gt: '' }, name: '甲', points: 1, stock: 1 },
        { sku: 'A', name: '甲', points: 1, stock: 1, extra: true },
      ]) {
        expect(
          (await http().post(`/v1/stores/${store.id}/items`).set(admin.auth).send(body)).status,
          JSON.stringify(body),
        ).to.equal(400);
      }
      expect(
        (await http().get(`/v1/stores/${store.id}/items`).set(admin.auth)).body.items,
      ).to.deep.equal([]);
      const t = await makeTerminal(store.id);
      expect(
        (
          await http()
            .post(`/v1/stores/${store.id}/items`)
            .set(t.auth)
            .send({ sku: 'A', name: '甲', points: 1, stock: 1 })
        ).status,
      ).to.be.oneOf([401, 403]);
      expect(
        (
          await http()
            .post('/v1/stores/0123456789abcdef01234567/items')
            .set(admin.auth)
            .send({ sku: 'A', name: '甲', points: 1, stock: 1 })
        ).status,
      ).to.equal(404);
    });

    it('PATCH changes the name or price, never the stock', async () => {
      const { admin, store } = await storeScene();
      await http()
        .post(`/v1/stores/${store.id}/items`)
        .set(admin.auth)
        .send({ sku: 'TEA', name: '茶叶', points: 30, stock: 3 });
      const res = await http()
        .patch(`/v1/stores/${store.id}/items/TEA`)
        .set(admin.auth)
        .send({ points: 35 });
      expect(res.body).to.include({ points: 35, name: '茶叶', stock: 3 });
      expect(
        (
          await http()
            .patch(`/v1/stores/${store.id}/items/TEA`)
            .set(admin.auth)
            .send({ stock: 100 })
        ).status,
      ).to.equal(400);
      expect(
        (await http().patch(`/v1/stores/${store.id}/items/TEA`).set(admin.auth).send({})).status,
      ).to.equal(400);
    });
  });

  describe('POST /v1/stores/:id/items/:sku/restock', () => {
    it('adds stock as a movement; with an Idempotency-Key ten identical restocks at once add it once; the key with another quantity is 422', async () => {
      const { admin, store } = await storeScene();
      await http()
        .post(`/v1/stores/${store.id}/items`)
        .set(admin.auth)
        .send({ sku: 'PEN', name: '铅笔', points: 2, stock: 5 });
      const restock = (qty: number, key?: string) => {
        const req = http().post(`/v1/stores/${store.id}/items/PEN/restock`).set(admin.auth);
        if (key) req.set('Idempotency-Key', key);
        return req.send({ qty, reason: '县里配送' });
      };
      const results = await Promise.all(
        Array.from({ length: 10 }, () => restock(20, 'delivery-0601')),
      );
      for (const r of results) expect(r.status).to.equal(201);
      expect(new Set(results.map((r) => r.body.movement.seq)).size).to.equal(1);
      expect((await restock(30, 'delivery-0601')).status).to.equal(422);
      expect((await restock(7)).body.item.stock).to.equal(32);
      const moves = await http()
        .get(`/v1/stores/${store.id}/items/PEN/movements?limit=2`)
        .set(admin.auth);
      expect(
        moves.body.items.map((m: { kind: string; delta: number }) => [m.kind, m.delta]),
      ).to.deep.equal([
        ['initial', 5],
        ['restock', 20],
      ]);
      expect(moves.body.next).to.equal(2);
      const page2 = await http()
        .get(`/v1/stores/${store.id}/items/PEN/movements?after=2`)
        .set(admin.auth);
      expect(page2.body.items.map((m: { stockAfter: number }) => m.stockAfter)).to.deep.equal([32]);
      for (const qty of [0, -5, 1.5, 2_000_000]) expect((await restock(qty)).status).to.equal(400);
      expect(
        (
          await http()
            .post(`/v1/stores/${store.id}/items/NOPE/restock`)
            .set(admin.auth)
            .send({ qty: 1 })
        ).status,
      ).to.equal(404);
    });
  });

  describe('terminals', () => {
    it('the secret is shown once, never listed; a terminal signs in with it', async () => {
      const { admin, store } = await storeScene();
      const created = await http().post(`/v1/stores/${store.id}/terminals`).set(admin.auth);
      expect(created.status).to.equal(201);
      expect(created.headers['cache-control']).to.equal('no-store');
      expect((await signIn(created.body.clientId, created.body.clientSecret)).status).to.equal(200);
      const list = await http().get(`/v1/stores/${store.id}/terminals`).set(admin.auth);
      expect(list.body.items).to.have.length(1);
      expect(JSON.stringify(list.body)).to.not.include(created.body.clientSecret);
      expect(list.body.items[0]).to.not.have.any.keys('clientSecret', 'secretHash');
    });

    it('rotating the secret: the new one signs in, the old one no longer does', async () => {
      const { admin, store } = await storeScene();
      const created = (await http().post(`/v1/stores/${store.id}/terminals`).set(admin.auth)).body;
      const rotated = await http()
        .post(`/v1/stores/${store.id}/terminals/${created.id}/secret`)
        .set(admin.auth);
      expect(rotated.status).to.equal(201);
      expect(rotated.body.clientId).to.equal(created.clientId);
      expect(rotated.body.clientSecret).to.not.equal(created.clientSecret);
      expect((await signIn(created.clientId, created.clientSecret)).status).to.equal(401);
      const token = await signIn(created.clientId, rotated.body.clientSecret);
      expect(token.status).to.equal(200);
      const list = await http().get(`/v1/stores/${store.id}/terminals`).set(admin.auth);
      expect(list.body.items[0].secretRotatedAt).to.be.a('string');
    });

    it('revoking: its tokens stop working at once and it can no longer sign in or be rotated; revoking again keeps the first time', async () => {
      const { admin, store } = await storeScene();
      const created = (await http().post(`/v1/stores/${store.id}/terminals`).set(admin.auth)).body;
      const token = (await signIn(created.clientId, created.clientSecret)).body.accessToken;
      expect(
        (await http().get(`/v1/stores/${store.id}/items`).set('Authorization', `Bearer ${token}`))
          .status,
      ).to.equal(200);
      const revoked = await http()
        .post(`/v1/stores/${store.id}/terminals/${created.id}/revocation`)
        .set(admin.auth);
      expect(revoked.status).to.equal(200);
      expect(revoked.body.revokedAt).to.be.a('string');
      expect(
        (await http().get(`/v1/stores/${store.id}/items`).set('Authorization', `Bearer ${token}`))
          .status,
      ).to.equal(401);
      expect((await signIn(created.clientId, created.clientSecret)).status).to.equal(401);
      expect(
        (await http().post(`/v1/stores/${store.id}/terminals/${created.id}/secret`).set(admin.auth))
          .status,
      ).to.equal(409);
      const again = await http()
        .post(`/v1/stores/${store.id}/terminals/${created.id}/revocation`)
        .set(admin.auth);
      expect(again.body.revokedAt).to.equal(revoked.body.revokedAt);
    });

    it('a terminal of another store cannot be rotated or revoked through this store (404); only an admin manages terminals', async () => {
      const { admin, store } = await storeScene();
      const other = await makeStore([(await makeVillage()).id]);
      const t = await makeTerminal(other.id);
      expect(
        (await http().post(`/v1/stores/${store.id}/terminals/${t.id}/secret`).set(admin.auth))
          .status,
      ).to.equal(404);
      expect(
        (await http().post(`/v1/stores/${store.id}/terminals/${t.id}/revocation`).set(admin.auth))
          .status,
      ).to.equal(404);
      expect(
        (await http().post(`/v1/stores/${other.id}/terminals/${t.id}/revocation`).set(t.auth))
          .status,
      ).to.be.oneOf([401, 403]);
      expect((await http().get(`/v1/stores/${other.id}`).set(t.auth)).status).to.equal(200);
      expect((await http().get(`/v1/stores/${store.id}`).set(t.auth)).status).to.equal(404);
    });
  });
});
