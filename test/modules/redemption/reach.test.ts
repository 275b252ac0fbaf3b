import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { clock } from '../../../src/platform/clock';
import { displayWidth, RECEIPT_WIDTH } from '../../../src/modules/redemption/receipt';
import {
  account,
  fund,
  makeScene,
  newKey,
  redeemVia,
  stockOfSku,
  verifyTouchedChains,
} from './scene';

const realNow = clock.now;

describe('redemption reach, reversal and receipts', () => {
  afterEach(() => {
    clock.now = realNow;
  });
  afterEach(verifyTouchedChains);

  describe('a terminal of store A and a redemption of store B', () => {
    it('cannot read, list, print or reverse it (404, as if it did not exist), and B is unchanged', async () => {
      const a = await makeScene({ points: 100 });
      const b = await makeScene({ points: 100 });
      const tA = a.terminals[0]!;
      const red = await redeemVia(b.terminals[0]!, newKey(), {
        cardNo: b.households[0]!.cardNo,
        items: [{ sku: 'RICE', qty: 1 }],
      });
      expect(red.status).to.equal(201);
      for (const path of [
        `/v1/redemptions/${red.body.id}`,
        `/v1/redemptions/${red.body.id}/receipt.txt`,
      ]) {
        const res = await http().get(path).set(tA.auth);
        expect(res.status, path).to.equal(404);
        expect(res.body.code).to.equal('not_found');
      }
      const rev = await http().post(`/v1/redemptions/${red.body.id}/reversal`).set(tA.auth);
      expect(rev.status).to.equal(404);
      const list = await http().get(`/v1/redemptions?storeId=${b.storeId}`).set(tA.auth);
      expect(list.status).to.equal(404);
      const own = await http().get('/v1/redemptions').set(tA.auth);
      expect(own.status).to.equal(200);
      expect(own.body.items.map((r: { id: string }) => r.id)).to.not.include(red.body.id);
      expect((await account(b, b.households[0]!.id)).spendable).to.equal(90);
      expect(await stockOfSku(b, 'RICE')).to.equal(999);
      for (const path of [
        `/v1/stores/${b.storeId}`,
        `/v1/stores/${b.storeId}/items`,
        `/v1/stores/${b.storeId}/items/RICE`,
        `/v1/stores/${b.storeId}/redemption-flags`,
      ]) {
        expect((await http().get(path).set(tA.auth)).status, path).to.equal(404);
      }
    });

    it('cannot redeem a card of a village its store does not serve (404, nothing spent), even for an item sold there', async () => {
      const a = await makeScene({ points: 100 });
      const b = await makeScene({ points: 100 });
      const res = await redeemVia(a.terminals[0]!, newKey(), {
        cardNo: b.households[0]!.cardNo,
        items: [{ sku: 'RICE', qty: 1 }],
      });
      expect(res.status).to.equal(404);
      expect(res.body.code).to.equal('not_found');
      expect((await account(b, b.households[0]!.id)).spendable).to.equal(100);
      expect(await stockOfSku(a, 'RICE')).to.equal(1000);
    });

    it('cannot sell items of another store (the sku is unknown here)', async () => {
      const a = await makeScene({ points: 100, items: [{ sku: 'RICE', points: 10, stock: 5 }] });
      const b = await makeScene({ points: 100, items: [{ sku: 'TEA', points: 10, stock: 5 }] });
      const res = await redeemVia(a.terminals[0]!, newKey(), {
        cardNo: a.households[0]!.cardNo,
        items: [{ sku: 'TEA', qty: 1 }],
      });
      expect(res.status).to.equal(400);
      expect(await stockOfSku(b, 'TEA')).to.equal(5);
    });
  });

  describe('POST /v1/redemptions/:id/reversal', () => {
    it('another terminal of the same store may reverse; the ledger shows a reversal entry with spendable back and merit untouched', async () => {
      const s = await makeScene({ points: 100, terminals: 2 });
      const h = s.households[0]!;
      const key = newKey();
      const red = await redeemVia(s.terminals[0]!, key, {
        cardNo: h.cardNo,
        items: [{ sku: 'RICE', qty: 3 }],
      });
      const rev = await http()
        .post(`/v1/redemptions/${red.body.id}/reversal`)
        .set(s.terminals[1]!.auth);
      expect(rev.status).to.equal(201);
      expect(rev.body).to.include({
        redemptionId: red.body.id,
        householdId: h.id,
        points: 30,
        spendableAfter: 100,
        receiptNo: red.body.receiptNo,
      });
      const entries = (await http().get(`/v1/households/${h.id}/entries`).set(s.admin.auth)).body
        .items;
      expect(entries[entries.length - 1]).to.include({
        type: 'reversal',
        points: 30,
        spendableDelta: 30,
        meritDelta: 0,
        sourceType: 'reversal',
        sourceId: red.body.id,
      });
      // The original 201 replays unchanged even after the reversal, and spends nothing.
      const replay = await redeemVia(s.terminals[0]!, key, {
        cardNo: h.cardNo,
        items: [{ sku: 'RICE', qty: 3 }],
      });
      expect(replay.status).to.equal(201);
      expect(replay.text).to.equal(red.text);
      expect((await account(s, h.id)).spendable).to.equal(100);
      expect(
        (await http().get(`/v1/redemptions/${red.body.id}`).set(s.terminals[1]!.auth)).body,
      ).to.include({ status: 'reversed' });
    });

    it('is refused the next day (Asia/Shanghai) with reversal_window_closed, and nothing moves', async () => {
      const s = await makeScene({ points: 100 });
      const h = s.households[0]!;
      // 23:50 in Shanghai (15:50 UTC); ten minutes later it is the next day there.
      clock.now = () => new Date('2030-06-01T15:50:00Z');
      const red = await redeemVia(s.terminals[0]!, newKey(), {
        cardNo: h.cardNo,
        items: [{ sku: 'RICE', qty: 1 }],
      });
      expect(red.status).to.equal(201);
      clock.now = () => new Date('2030-06-01T16:00:00Z');
      const rev = await http()
        .post(`/v1/redemptions/${red.body.id}/reversal`)
        .set(s.terminals[0]!.auth);
      expect(rev.status).to.equal(409);
      expect(rev.body.code).to.equal('reversal_window_closed');
      expect((await account(s, h.id)).spendable).to.equal(90);
      expect(await stockOfSku(s, 'RICE')).to.equal(999);
    });

    it('is allowed later the same Shanghai day even across the UTC midnight', async () => {
      const s = await makeScene({ points: 100 });
      clock.now = () => new Date('2030-06-01T23:30:00Z'); // 07:30 on 2 June in Shanghai
      const red = await redeemVia(s.terminals[0]!, newKey(), {
        cardNo: s.households[0]!.cardNo,
        items: [{ sku: 'RICE', qty: 1 }],
      });
      clock.now = () => new Date('2030-06-02T10:00:00Z'); // 18:00 on 2 June in Shanghai
      expect(
        (await http().post(`/v1/redemptions/${red.body.id}/reversal`).set(s.terminals[0]!.auth))
          .status,
      ).to.equal(201);
    });

    it('a refused redemption has nothing to reverse (409 conflict); an unknown id is 404; an admin cannot reverse', async () => {
      const s = await makeScene({ points: 5 });
      const red = await redeemVia(s.terminals[0]!, newKey(), {
        cardNo: s.households[0]!.cardNo,
        items: [{ sku: 'RICE', qty: 1 }],
      });
      expect(red.status).to.equal(409);
      const list = await http().get('/v1/redemptions').set(s.terminals[0]!.auth);
      const failed = list.body.items[0];
      expect(failed).to.include({ status: 'failed', spendableAfter: null });
      expect(failed.failure.code).to.equal('insufficient_points');
      const rev = await http()
        .post(`/v1/redemptions/${failed.id}/reversal`)
        .set(s.terminals[0]!.auth);
      expect(rev.status).to.equal(409);
      expect(rev.body.code).to.equal('conflict');
      expect(
        (
          await http()
            .post('/v1/redemptions/0123456789abcdef01234567/reversal')
            .set(s.terminals[0]!.auth)
        ).status,
      ).to.equal(404);
      await fund(s.households[0]!.id, 100);
      const ok = await redeemVia(s.terminals[0]!, newKey(), {
        cardNo: s.households[0]!.cardNo,
        items: [{ sku: 'RICE', qty: 1 }],
      });
      expect(
        (await http().post(`/v1/redemptions/${ok.body.id}/reversal`).set(s.admin.auth)).status,
      ).to.be.oneOf([401, 403]);
    });
  });

  describe('receipts', () => {
    it('the 201 carries what the printer needs, and GET receipt.txt prints it in Chinese, 32 columns wide', async () => {
      const s = await makeScene({
        points: 500,
        items: [
          { sku: 'RICE', name: '东北大米五公斤装（优质粳米，新米上市）', points: 120, stock: 10 },
          { sku: 'SOAP', name: '肥皂', points: 5, stock: 10 },
        ],
      });
      clock.now = () => new Date('2030-03-08T02:04:05Z');
      const red = await redeemVia(s.terminals[0]!, newKey(), {
        cardNo: s.households[0]!.cardNo,
        items: [
          { sku: 'RICE', qty: 2 },
          { sku: 'SOAP', qty: 3 },
        ],
      });
      expect(red.status).to.equal(201);
      for (const f of ['store', 'time', 'items', 'points', 'spendableAfter', 'receiptNo'])
        expect(red.body).to.have.property(f);
      expect(red.body.time).to.equal('2030-03-08T02:04:05.000Z');
      const res = await http()
        .get(`/v1/redemptions/${red.body.id}/receipt.txt`)
        .set(s.terminals[0]!.auth);
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/plain; charset=utf-8/);
      const lines = res.text.split('\n').filter((l) => l.length);
      for (const l of lines) expect(displayWidth(l), `"${l}"`).to.be.at.most(RECEIPT_WIDTH);
      expect(
        lines.some((l) => displayWidth(l) === RECEIPT_WIDTH),
        'the rules use the full width',
      ).to.equal(true);
      expect(res.text).to.include('公益超市');
      expect(res.text).to.include(`单号：${red.body.receiptNo}`);
      expect(res.text).to.include('时间：2030-03-08 10:04:05'); // Shanghai time
      expect(res.text).to.include('东北大米');
      expect(res.text).to.include('x2');
      expect(res.text).to.match(/合计扣减积分 +255\n/);
      expect(res.text).to.match(/兑换后可用积分 +245\n/);
      expect(res.text).to.not.include(s.households[0]!.cardNo);
      expect(res.text).to.include(s.households[0]!.cardNo.slice(-4));

      await http().post(`/v1/redemptions/${red.body.id}/reversal`).set(s.terminals[0]!.auth);
      const after = await http()
        .get(`/v1/redemptions/${red.body.id}/receipt.txt`)
        .set(s.admin.auth);
      expect(after.text).to.include('本单已撤销');
      for (const l of after.text.split('\n')) expect(displayWidth(l)).to.be.at.most(RECEIPT_WIDTH);
    });

    it('a refused redemption has no receipt (409)', async () => {
      const s = await makeScene({ points: 0 });
      await redeemVia(s.terminals[0]!, newKey(), {
        cardNo: s.households[0]!.cardNo,
        items: [{ sku: 'RICE', qty: 1 }],
      });
      const failed = (await http().get('/v1/redemptions').set(s.terminals[0]!.auth)).body.items[0];
      expect(
        (await http().get(`/v1/redemptions/${failed.id}/receipt.txt`).set(s.terminals[0]!.auth))
          .status,
      ).to.equal(409);
    });
  });

  it('GET /v1/redemptions lists the store’s redemptions newest first, a page at a time, with a household filter', async () => {
    const s = await makeScene({ points: 100, households: 2 });
    for (const h of [...s.households, ...s.households]) {
      expect(
        (
          await redeemVia(s.terminals[0]!, newKey(), {
            cardNo: h.cardNo,
            items: [{ sku: 'RICE', qty: 1 }],
          })
        ).status,
      ).to.equal(201);
    }
    const page1 = await http().get('/v1/redemptions?limit=3').set(s.terminals[0]!.auth);
    expect(page1.body.items).to.have.length(3);
    expect(page1.body.next).to.be.a('string');
    const page2 = await http()
      .get(`/v1/redemptions?limit=3&before=${page1.body.next}`)
      .set(s.terminals[0]!.auth);
    expect(page2.body.items).to.have.length(1);
    expect(page2.body.next).to.equal(null);
    const ids = [...page1.body.items, ...page2.body.items].map((r: { id: string }) => r.id);
    expect([...ids].sort().reverse()).to.deep.equal(ids);
    const mine = await http()
      .get(`/v1/redemptions?householdId=${s.households[1]!.id}`)
      .set(s.terminals[0]!.auth);
    expect(mine.body.items.map((r: { householdId: string }) => r.householdId)).to.deep.equal([
      s.households[1]!.id,
      s.households[1]!.id,
    ]);
  });
});
