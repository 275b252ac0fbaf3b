/**
 * POST /v1/households/:id/adjustments refuses anything but a whole, non-zero, bounded number
 * of points with a reason, and never lets a caller set what the ledger computes.
 * POST /v1/households refuses input FerretDB cannot store with the same 400 on every backend.
 * GET /v1/households/:id/entries pages by seq.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeHousehold,
  makeUser,
  makeVillage,
  unique,
  verifyChainViaApi,
  type TestUser,
} from '../../support/factories';
import { countAll, expectNothingStored, storesNothingAcrossTable } from '../../support/snapshot';

describe('POST /v1/households/:id/adjustments', () => {
  let admin: TestUser;
  let householdId: string;

  before(async () => {
    admin = await makeAdmin();
    householdId = (await makeHousehold((await makeVillage()).id)).id;
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    http()
      .post(`/v1/households/${householdId}/adjustments`)
      .set(admin.auth)
      .set(headers)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body));

  const badPoints: [string, unknown][] = [
    ['0', 0],
    ['1.5', 1.5],
    ['"10"', '10'],
    ['2^53', 2 ** 53],
    ['-(2^53)', -(2 ** 53)],
    ['1e21', 1e21],
    ['100001 (above the largest correction)', 100_001],
    ['-100001', -100_001],
    ['null', null],
    ['[]', []],
    ['[10]', [10]],
    ['{}', {}],
    ['true', true],
    ['{"$gt": 0}', { $gt: 0 }],
  ];
  // The refusals share one "nothing stored" snapshot, checked after the last of them.
  describe('refused adjustments', () => {
    for (const [label, points] of badPoints) {
      it(`returns 400 validation_failed at points for points ${label}, and stores nothing`, async () => {
        const res = await post({ points, reason: '测试' });
        expect(res.status, JSON.stringify(res.body)).to.equal(400);
        expect(res.body.code).to.equal('validation_failed');
        expect(res.body.errors.map((e: { path: string }) => e.path)).to.satisfy((paths: string[]) =>
          paths.some((p) => p === 'points' || p.startsWith('points.')),
        );
      });
    }

    it('returns 400 when points are missing, or sent as the text 1e3', async () => {
      for (const body of [{ reason: '测试' }, { points: '1e3', reason: '测试' }]) {
        const res = await post(body);
        expect(res.status).to.equal(400);
      }
    });

    it('returns 400 for a missing, blank, too long or NUL-bearing reason', async () => {
      for (const reason of [undefined, '', '   ', 'x'.repeat(501), '更\u0000正', 42]) {
        const res = await post({ points: 5, reason });
        expect(res.status, String(reason)).to.equal(400);
        expect(res.body.errors.some((e: { path: string }) => e.path === 'reason')).to.equal(true);
      }
    });

    for (const field of [
      'spendable',
      'merit',
      'spendableDelta',
      'spendableAfter',
      'hash',
      'prevHash',
      'seq',
      'type',
      'sourceId',
      'householdId',
      'createdAt',
    ]) {
      it(`refuses a caller-set ${field} (mass assignment) with 400 naming it; nothing stored`, async () => {
        const res = await post({
          points: 5,
          reason: '测试',
          [field]: field === 'seq' ? 1 : field === 'spendable' ? 1_000_000 : 'x',
        });
        expect(res.status).to.equal(400);
        expect(JSON.stringify(res.body.errors)).to.contain(field);
      });
    }

    it('refuses a malformed Idempotency-Key with 400; nothing stored', async () => {
      for (const key of ['x'.repeat(129), 'key with spaces', 'clé', 'a\tb']) {
        const res = await http()
          .post(`/v1/households/${householdId}/adjustments`)
          .set(admin.auth)
          .set('Idempotency-Key', key)
          .send({ points: 5, reason: '测试' });
        expect(res.status, key).to.equal(400);
        expect(res.body.code).to.equal('validation_failed');
      }
    });

    storesNothingAcrossTable();
  });

  it('a household that does not exist is 404; a malformed id is 400; nothing stored', async () => {
    const before = await countAll();
    const missing = await http()
      .post(`/v1/households/${new Types.ObjectId().toHexString()}/adjustments`)
      .set(admin.auth)
      .send({ points: 5, reason: '测试' });
    expect(missing.status).to.equal(404);
    for (const id of ['not-an-id', '{"$ne":null}', '6b0000000000000000000000x']) {
      const res = await http()
        .post(`/v1/households/${encodeURIComponent(id)}/adjustments`)
        .set(admin.auth)
        .send({ points: 5, reason: '测试' });
      expect(res.status, id).to.equal(400);
    }
    await expectNothingStored(before);
  });

  it('the largest correction (±100000) is accepted and the chain verifies', async () => {
    expect((await post({ points: 100_000, reason: '上限' })).status).to.equal(201);
    expect((await post({ points: -100_000, reason: '下限' })).status).to.equal(201);
    await verifyChainViaApi(householdId, admin.auth);
  });
});

describe('POST /v1/households', () => {
  let admin: TestUser;
  let villageId: string;

  before(async () => {
    admin = await makeAdmin();
    villageId = (await makeVillage()).id;
  });

  const create = (body: unknown, auth = admin.auth) =>
    http()
      .post('/v1/households')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body));

  it('a clerk of the village registers a household: 201 with the household, readable afterwards', async () => {
    const clerk = await makeUser('clerk', { villageId });
    const cardNo = unique('H');
    const res = await create(
      { villageId, head: '孙八', members: [{ name: '周九' }], cardNo },
      clerk.auth,
    );
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({ villageId, head: '孙八', cardNo });
    expect(res.body.members).to.deep.equal([{ name: '周九' }]);
    const read = await http().get(`/v1/households/${res.body.id}`).set(clerk.auth);
    expect(read.body).to.deep.equal(res.body);
  });

  it('a card number already registered is 409 conflict; five at once create one', async () => {
    const cardNo = unique('D');
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => create({ villageId, head: '吴十', cardNo })),
    );
    expect(replies.map((r) => r.status).sort()).to.deep.equal([201, 409, 409, 409, 409]);
    for (const r of replies.filter((x) => x.status === 409))
      expect(r.body.code).to.equal('conflict');
  });

  it('a village that does not exist is 400 validation_failed at villageId; nothing stored', async () => {
    const before = await countAll();
    const res = await create({
      villageId: new Types.ObjectId().toHexString(),
      head: '郑一',
      cardNo: unique('N'),
    });
    expect(res.status).to.equal(400);
    expect(res.body.errors[0].path).to.equal('villageId');
    await expectNothingStored(before);
  });

  const unstorable: [string, Record<string, unknown>][] = [
    ['a key with a dot', { 'head.x': '郑一' }],
    ['a key starting with $', { $set: { head: 'x' } }],
    ['a member key with a dot', { members: [{ 'name.first': '王' }] }],
    ['a member key starting with $', { members: [{ $name: '王' }] }],
    ['a NUL character in head', { head: '郑\u0000一' }],
    ['a NUL character in a member name', { members: [{ name: '王\u0000' }] }],
    ['a NUL character in a key', { 'he\u0000ad': '郑一' }],
    ['nested arrays in members', { members: [[{ name: '王' }]] }],
    ['an empty key', { '': 'x' }],
    ['a __proto__ key', JSON.parse('{"__proto__": {"admin": true}}') as Record<string, unknown>],
  ];
  describe('input FerretDB cannot store', () => {
    for (const [label, extra] of unstorable) {
      it(`input FerretDB cannot store (${label}) is 400 validation_failed, never 500; nothing stored`, async () => {
        const res = await create({ villageId, head: '郑一', cardNo: unique('U'), ...extra });
        expect(res.status, JSON.stringify(res.body)).to.equal(400);
        expect(res.body.code).to.equal('validation_failed');
      });
    }
    storesNothingAcrossTable();
  });

  it('too many members, a malformed card number or a blank head are 400; nothing stored', async () => {
    const before = await countAll();
    for (const body of [
      {
        villageId,
        head: '郑一',
        cardNo: unique('M'),
        members: Array.from({ length: 31 }, (_, i) => ({ name: `成员${i}` })),
      },
      { villageId, head: '郑一', cardNo: 'a b' },
      { villageId, head: '郑一', cardNo: 'x'.repeat(33) },
      { villageId, head: '   ', cardNo: unique('B') },
    ]) {
      const res = await create(body);
      expect(res.status).to.equal(400);
    }
    await expectNothingStored(before);
  });
});

describe('GET /v1/households/:id/entries', () => {
  let admin: TestUser;
  let householdId: string;

  before(async () => {
    admin = await makeAdmin();
    householdId = (await makeHousehold((await makeVillage()).id)).id;
    for (let i = 1; i <= 5; i++)
      await http()
        .post(`/v1/households/${householdId}/adjustments`)
        .set(admin.auth)
        .send({ points: i, reason: `第${i}次` });
  });

  it('pages by seq: after and limit, with next pointing at the following page and null at the end', async () => {
    const page1 = await http().get(`/v1/households/${householdId}/entries?limit=2`).set(admin.auth);
    expect(page1.body.items.map((e: { seq: number }) => e.seq)).to.deep.equal([1, 2]);
    expect(page1.body.next).to.equal(2);
    const page2 = await http()
      .get(`/v1/households/${householdId}/entries?after=2&limit=2`)
      .set(admin.auth);
    expect(page2.body.items.map((e: { seq: number }) => e.seq)).to.deep.equal([3, 4]);
    const page3 = await http()
      .get(`/v1/households/${householdId}/entries?after=4&limit=2`)
      .set(admin.auth);
    expect(page3.body.items.map((e: { seq: number }) => e.seq)).to.deep.equal([5]);
    expect(page3.body.next).to.equal(null);
    const beyond = await http()
      .get(`/v1/households/${householdId}/entries?after=99`)
      .set(admin.auth);
    expect(beyond.body).to.deep.equal({ items: [], next: null });
  });

  it('an entry carries the contract fields', async () => {
    const res = await http().get(`/v1/households/${householdId}/entries?limit=1`).set(admin.auth);
    expect(res.body.items[0]).to.include.keys([
      'seq',
      'type',
      'points',
      'spendableAfter',
      'meritAfter',
      'sourceId',
      'createdAt',
      'prevHash',
      'hash',
    ]);
    expect(res.body.items[0].prevHash).to.equal('0'.repeat(64));
    expect(res.body.items[0].hash).to.match(/^[0-9a-f]{64}$/);
  });

  it('refuses limit 0, limit 501, a negative or fractional after, and text: 400', async () => {
    for (const q of ['limit=0', 'limit=501', 'after=-1', 'after=1.5', 'after=abc', 'limit=1e2']) {
      const res = await http().get(`/v1/households/${householdId}/entries?${q}`).set(admin.auth);
      expect(res.status, q).to.equal(400);
    }
  });
});

describe('POST /v1/households/:id/adjustments with an Idempotency-Key', () => {
  it('the same key on another household is that household’s own adjustment, never an answer with the first household’s entry', async () => {
    const admin = await makeAdmin();
    const v = await makeVillage();
    const a = await makeHousehold(v.id);
    const b = await makeHousehold(v.id);
    const send = (id: string) =>
      http()
        .post(`/v1/households/${id}/adjustments`)
        .set(admin.auth)
        .set('Idempotency-Key', 'shared-key')
        .send({ points: 7, reason: '同一个键' });
    const first = await send(a.id);
    expect(first.status).to.equal(201);
    const second = await send(b.id);
    expect(second.status).to.equal(201);
    const entriesB = await http().get(`/v1/households/${b.id}/entries`).set(admin.auth);
    expect(second.body).to.deep.equal(entriesB.body.items[0]);
    // A retry on either household is a replay of that household's adjustment.
    expect((await send(b.id)).body).to.deep.equal(second.body);
    expect((await send(a.id)).body).to.deep.equal(first.body);
    for (const h of [a, b]) {
      const account = await http().get(`/v1/households/${h.id}/account`).set(admin.auth);
      expect(account.body).to.include({ spendable: 7, entryCount: 1 });
      await verifyChainViaApi(h.id, admin.auth);
    }
  });
});
