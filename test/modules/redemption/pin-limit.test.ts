import { expect } from '../../support/expect';
import { http, makeUser } from '../../support/factories';
import { clock } from '../../../src/platform/clock';
import { PIN_LOCK_MS } from '../../../src/modules/redemption/pin.service';
import { makeStore, makeTerminal } from '../../support/factories';
import { createItem } from '../../../src/modules/stores/items.service';
import { account, makeScene, newKey, redeemVia, verifyTouchedChains } from './scene';

const realNow = clock.now;

describe('card PIN', () => {
  afterEach(() => {
    clock.now = realNow;
  });
  afterEach(verifyTouchedChains);

  async function pinScene() {
    const s = await makeScene({ points: 100 });
    const h = s.households[0]!;
    const set = await http()
      .put(`/v1/households/${h.id}/pin`)
      .set(s.admin.auth)
      .send({ pin: '2468' });
    expect(set.status).to.equal(204);
    return { s, h, t: s.terminals[0]! };
  }
  const basket = (cardNo: string, pin?: string) => ({
    cardNo,
    items: [{ sku: 'RICE', qty: 1 }],
    ...(pin !== undefined ? { pin } : {}),
  });

  it('a card with a PIN needs it: none → 403 pin_required, wrong → 403 pin_incorrect (attemptsLeft), right → 201', async () => {
    const { s, h, t } = await pinScene();
    const none = await redeemVia(t, newKey(), basket(h.cardNo));
    expect(none.status).to.equal(403);
    expect(none.body.code).to.equal('pin_required');
    const wrong = await redeemVia(t, newKey(), basket(h.cardNo, '1111'));
    expect(wrong.status).to.equal(403);
    expect(wrong.body).to.include({ code: 'pin_incorrect', attemptsLeft: 2 });
    const right = await redeemVia(t, newKey(), basket(h.cardNo, '2468'));
    expect(right.status).to.equal(201);
    expect((await account(s, h.id)).spendable).to.equal(90);
  });

  it('a wrong PIN frees the key: the same key with the right PIN then redeems; replays with a wrong PIN count no attempt', async () => {
    const { h, t } = await pinScene();
    const key = newKey();
    expect((await redeemVia(t, key, basket(h.cardNo, '0000'))).status).to.equal(403);
    expect((await redeemVia(t, key, basket(h.cardNo, '2468'))).status).to.equal(201);
    // The PIN is not part of the request's fingerprint: a replay answers from storage. Its
    // basket is read beside the claim, but the PIN is checked only by the request that wins a
    // claim: three replays with a wrong PIN count no attempt (they would have locked the card).
    for (let i = 0; i < 3; i++) {
      const replay = await redeemVia(t, key, basket(h.cardNo, '9999'));
      expect(replay.status).to.equal(201);
    }
    const next = await redeemVia(t, newKey(), basket(h.cardNo, '1111'));
    expect(next.body).to.include({ code: 'pin_incorrect', attemptsLeft: 2 });
  });

  it('three wrong PINs lock the card for 15 minutes (423 card_locked, even with the right PIN); it opens again after', async () => {
    const { s, h, t } = await pinScene();
    const t0 = Date.parse('2030-01-01T02:00:00Z');
    clock.now = () => new Date(t0);
    expect((await redeemVia(t, newKey(), basket(h.cardNo, '1111'))).body.attemptsLeft).to.equal(2);
    expect((await redeemVia(t, newKey(), basket(h.cardNo, '1112'))).body.attemptsLeft).to.equal(1);
    const third = await redeemVia(t, newKey(), basket(h.cardNo, '1113'));
    expect(third.status).to.equal(423);
    expect(third.body.code).to.equal('card_locked');
    expect(third.headers['retry-after']).to.equal(String(PIN_LOCK_MS / 1000));
    const right = await redeemVia(t, newKey(), basket(h.cardNo, '2468'));
    expect(right.status).to.equal(423);
    const status = await http().get(`/v1/households/${h.id}/pin`).set(s.admin.auth);
    expect(status.body).to.deep.equal({
      householdId: h.id,
      pinSet: true,
      lockedUntil: new Date(t0 + PIN_LOCK_MS).toISOString(),
    });
    clock.now = () => new Date(t0 + PIN_LOCK_MS - 1000);
    expect((await redeemVia(t, newKey(), basket(h.cardNo, '2468'))).status).to.equal(423);
    clock.now = () => new Date(t0 + PIN_LOCK_MS);
    expect((await redeemVia(t, newKey(), basket(h.cardNo, '2468'))).status).to.equal(201);
    // A new run of failures starts from zero after the lock.
    expect((await redeemVia(t, newKey(), basket(h.cardNo, '1111'))).body.attemptsLeft).to.equal(2);
    expect((await account(s, h.id)).spendable).to.equal(90);
  });

  it('ten wrong PINs at once from three counters record exactly three failures; the rest find the card locked', async () => {
    const s = await makeScene({ points: 100, terminals: 3 });
    const h = s.households[0]!;
    await http().put(`/v1/households/${h.id}/pin`).set(s.admin.auth).send({ pin: '2468' });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        redeemVia(s.terminals[i % 3]!, newKey(), basket(h.cardNo, `00${i}0`)),
      ),
    );
    const incorrect = results.filter((r) => r.body.code === 'pin_incorrect');
    const locked = results.filter((r) => r.body.code === 'card_locked');
    expect(incorrect.map((r) => r.body.attemptsLeft).sort()).to.deep.equal([1, 2]);
    expect(locked).to.have.length(8);
    expect((await account(s, h.id)).spendable).to.equal(100);
  });

  it('a correct PIN ends a run of failures; setting a new PIN unlocks a locked card', async () => {
    const { s, h, t } = await pinScene();
    await redeemVia(t, newKey(), basket(h.cardNo, '1111'));
    await redeemVia(t, newKey(), basket(h.cardNo, '1111'));
    expect((await redeemVia(t, newKey(), basket(h.cardNo, '2468'))).status).to.equal(201);
    expect((await redeemVia(t, newKey(), basket(h.cardNo, '1111'))).body.attemptsLeft).to.equal(2);
    await redeemVia(t, newKey(), basket(h.cardNo, '1111'));
    expect((await redeemVia(t, newKey(), basket(h.cardNo, '1111'))).status).to.equal(423);
    expect(
      (await http().put(`/v1/households/${h.id}/pin`).set(s.admin.auth).send({ pin: '135790' }))
        .status,
    ).to.equal(204);
    expect((await redeemVia(t, newKey(), basket(h.cardNo, '135790'))).status).to.equal(201);
  });

  it('the household itself and its village clerk may set or remove the PIN; another village’s clerk gets 404; the PIN is never shown', async () => {
    const s = await makeScene({ points: 100 });
    const h = s.households[0]!;
    const own = await makeUser('household', { householdId: h.id });
    const clerk = await makeUser('clerk', { villageId: s.villageId });
    const other = await makeScene();
    const otherClerk = await makeUser('clerk', { villageId: other.villageId });
    expect(
      (await http().put(`/v1/households/${h.id}/pin`).set(own.auth).send({ pin: '1234' })).status,
    ).to.equal(204);
    const st = await http().get(`/v1/households/${h.id}/pin`).set(clerk.auth);
    expect(st.body).to.deep.equal({ householdId: h.id, pinSet: true, lockedUntil: null });
    expect(
      (await http().put(`/v1/households/${h.id}/pin`).set(otherClerk.auth).send({ pin: '1234' }))
        .status,
    ).to.equal(404);
    expect(
      (await http().delete(`/v1/households/${h.id}/pin`).set(otherClerk.auth)).status,
    ).to.equal(404);
    for (const pin of ['123', '1234567', 'abcd', 1234, { $gt: '' }]) {
      expect(
        (await http().put(`/v1/households/${h.id}/pin`).set(own.auth).send({ pin })).status,
        JSON.stringify(pin),
      ).to.equal(400);
    }
    expect((await http().delete(`/v1/households/${h.id}/pin`).set(clerk.auth)).status).to.equal(
      204,
    );
    expect((await redeemVia(s.terminals[0]!, newKey(), basket(h.cardNo))).status).to.equal(201);
  });
});

describe('daily redemption limit (village policy)', () => {
  afterEach(() => {
    clock.now = realNow;
  });
  afterEach(verifyTouchedChains);

  it('PATCH /v1/villages/:id sets redemptionDailyLimit, GET shows it, null removes it; bad values are 400', async () => {
    const s = await makeScene();
    const set = await http()
      .patch(`/v1/villages/${s.villageId}`)
      .set(s.admin.auth)
      .send({ policy: { redemptionDailyLimit: 50 } });
    expect(set.status).to.equal(200);
    expect(set.body.policy).to.include({ redemptionDailyLimit: 50 });
    expect(
      (await http().get(`/v1/villages/${s.villageId}`).set(s.admin.auth)).body.policy
        .redemptionDailyLimit,
    ).to.equal(50);
    for (const bad of [0, -1, 1.5, '50', { $gt: 0 }]) {
      expect(
        (
          await http()
            .patch(`/v1/villages/${s.villageId}`)
            .set(s.admin.auth)
            .send({ policy: { redemptionDailyLimit: bad } })
        ).status,
        JSON.stringify(bad),
      ).to.equal(400);
    }
    const cleared = await http()
      .patch(`/v1/villages/${s.villageId}`)
      .set(s.admin.auth)
      .send({ policy: { redemptionDailyLimit: null } });
    expect(cleared.status).to.equal(200);
    expect(cleared.body.policy).to.not.have.property('redemptionDailyLimit');
  });

  it('counts per household, per store and per Asia/Shanghai day: over it → 409 daily_limit_exceeded, nothing spent; another store or the next day is fresh', async () => {
    const s = await makeScene({ points: 1000, dailyLimit: 25, households: 2 });
    const [h1, h2] = s.households;
    const t = s.terminals[0]!;
    clock.now = () => new Date('2030-05-01T10:00:00Z');
    expect(
      (await redeemVia(t, newKey(), { cardNo: h1!.cardNo, items: [{ sku: 'RICE', qty: 2 }] }))
        .status,
    ).to.equal(201);
    const over = await redeemVia(t, newKey(), {
      cardNo: h1!.cardNo,
      items: [{ sku: 'RICE', qty: 1 }],
    });
    expect(over.status).to.equal(409);
    expect(over.body).to.include({ code: 'daily_limit_exceeded', limit: 25, usedToday: 20 });
    expect((await account(s, h1!.id)).spendable).to.equal(980);
    // Another household of the village has its own allowance.
    expect(
      (await redeemVia(t, newKey(), { cardNo: h2!.cardNo, items: [{ sku: 'RICE', qty: 2 }] }))
        .status,
    ).to.equal(201);
    // Another store serving the village counts apart.
    const store2 = await makeStore([s.villageId]);
    const t2 = await makeTerminal(store2.id);
    await createItem(store2.id, { sku: 'RICE', name: '大米', points: 10, stock: 10 });
    expect(
      (await redeemVia(t2, newKey(), { cardNo: h1!.cardNo, items: [{ sku: 'RICE', qty: 2 }] }))
        .status,
    ).to.equal(201);
    // 16:00 UTC is midnight in Shanghai: a new day.
    clock.now = () => new Date('2030-05-01T16:00:00Z');
    expect(
      (await redeemVia(t, newKey(), { cardNo: h1!.cardNo, items: [{ sku: 'RICE', qty: 2 }] }))
        .status,
    ).to.equal(201);
  });

  it('the limit in force when the redemption began applies; a raised limit lets the next one through', async () => {
    const s = await makeScene({ points: 1000, dailyLimit: 10 });
    const h = s.households[0]!;
    expect(
      (
        await redeemVia(s.terminals[0]!, newKey(), {
          cardNo: h.cardNo,
          items: [{ sku: 'RICE', qty: 1 }],
        })
      ).status,
    ).to.equal(201);
    expect(
      (
        await redeemVia(s.terminals[0]!, newKey(), {
          cardNo: h.cardNo,
          items: [{ sku: 'RICE', qty: 1 }],
        })
      ).status,
    ).to.equal(409);
    await http()
      .patch(`/v1/villages/${s.villageId}`)
      .set(s.admin.auth)
      .send({ policy: { redemptionDailyLimit: 20 } });
    expect(
      (
        await redeemVia(s.terminals[0]!, newKey(), {
          cardNo: h.cardNo,
          items: [{ sku: 'RICE', qty: 1 }],
        })
      ).status,
    ).to.equal(201);
  });
  it('a limit set mid-day counts what was spent earlier that day: spent 10, limit set to 50 → 50 more is 409, 40 more goes through; a reversal gives its part back', async () => {
    const s = await makeScene({
      points: 1000,
      items: [
        { sku: 'RICE', points: 10, stock: 100 },
        { sku: 'OIL', points: 40, stock: 100 },
        { sku: 'BIG', points: 50, stock: 100 },
      ],
    });
    const h = s.households[0]!;
    const t = s.terminals[0]!;
    const buy = (sku: string) =>
      redeemVia(t, newKey(), { cardNo: h.cardNo, items: [{ sku, qty: 1 }] });
    const early = await buy('RICE');
    expect(early.status, early.text).to.equal(201);
    const set = await http()
      .patch(`/v1/villages/${s.villageId}`)
      .set(s.admin.auth)
      .send({ policy: { redemptionDailyLimit: 50 } });
    expect(set.status).to.equal(200);
    const over = await buy('BIG');
    expect(over.status, over.text).to.equal(409);
    expect(over.body).to.include({ code: 'daily_limit_exceeded', limit: 50, usedToday: 10 });
    const fits = await buy('OIL');
    expect(fits.status, fits.text).to.equal(201);
    expect((await buy('RICE')).body).to.include({ code: 'daily_limit_exceeded', usedToday: 50 });
    // The reversal of the purchase made before the limit gives its 10 points of allowance back.
    const rev = await http().post(`/v1/redemptions/${early.body.id}/reversal`).set(t.auth);
    expect(rev.status, rev.text).to.equal(201);
    expect((await buy('RICE')).status).to.equal(201);
    expect((await account(s, h.id)).spendable).to.equal(1000 - 40 - 10);
  });

  it('a limit set mid-day holds under 30 concurrent redemptions from 3 counters after earlier spending: the day never passes it', async () => {
    const s = await makeScene({
      points: 1000,
      terminals: 3,
      items: [{ sku: 'RICE', points: 10, stock: 1000 }],
    });
    const h = s.households[0]!;
    const buy = (i: number) =>
      redeemVia(s.terminals[i % 3]!, newKey(), {
        cardNo: h.cardNo,
        items: [{ sku: 'RICE', qty: 1 }],
      });
    for (let i = 0; i < 3; i++) expect((await buy(i)).status).to.equal(201);
    await http()
      .patch(`/v1/villages/${s.villageId}`)
      .set(s.admin.auth)
      .send({ policy: { redemptionDailyLimit: 100 } });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => buy(i)));
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter(
      (r) => r.status === 409 && r.body.code === 'daily_limit_exceeded',
    );
    expect(ok.length, results.map((r) => r.status).join()).to.equal(7);
    expect(refused.length).to.equal(23);
    expect((await account(s, h.id)).spendable).to.equal(1000 - 100);
  });
});
