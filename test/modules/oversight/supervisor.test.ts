/**
 * The supervision team (监督运营): reads the village's points, submissions, and the stock and
 * sales of the stores serving it; objects to a submission in notice; flags a sale or a stock
 * movement, which goes to the township station; and can write points nowhere: every write route
 * of the API, taken from /openapi.json, refuses it (403; 401 where only a counter terminal's
 * token is accepted) and stores nothing.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { http, makeStore, makeTerminal, makeUser, makeVillage } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { createItem } from '../../../src/modules/stores/items.service';
import { fund, newKey } from '../redemption/scene';
import { voteVia, type Json } from '../submissions/scene';
import type { OpenApiDoc } from '../validation/openapi-table';
import { makeServiceScene, type ServiceScene } from '../service-orders/scene';

interface World {
  s: ServiceScene;
  storeId: string;
  otherStoreId: string;
  terminal: Awaited<ReturnType<typeof makeTerminal>>;
  redemptionId: string;
  submission: Json;
}

async function makeWorld(): Promise<World> {
  const s = await makeServiceScene({ quorum: 2, noticePeriod: 'P1D' });
  const store = await makeStore([s.villageId, s.village2Id]);
  const other = await makeStore([s.otherVillageId]);
  await createItem(store.id, { sku: 'RICE-5', name: '大米5斤', points: 10, stock: 20 });
  const terminal = await makeTerminal(store.id);
  const household = (await http().get(`/v1/households/${s.households[0]!.id}`).set(s.admin.auth))
    .body;
  await fund(household.id, 100);
  const redemption = await http()
    .post('/v1/redemptions')
    .set(terminal.auth)
    .set('Idempotency-Key', newKey())
    .send({ cardNo: household.cardNo, items: [{ sku: 'RICE-5', qty: 1 }] });
  expect(redemption.status, JSON.stringify(redemption.body)).to.equal(201);
  const filed = await http()
    .post('/v1/submissions')
    .set(s.clerk.auth)
    .send({
      villageId: s.villageId,
      householdId: s.households[1]!.id,
      ruleCode: s.rule.code,
      quantity: 2,
      occurredOn: new Date().toISOString().slice(0, 10),
      evidence: { text: '签到表' },
    });
  expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
  await voteVia(filed.body.id, s.council[0]!);
  const inNotice = (await voteVia(filed.body.id, s.council[1]!)).body;
  expect(inNotice.status).to.equal('in_notice');
  return {
    s,
    storeId: store.id,
    otherStoreId: other.id,
    terminal,
    redemptionId: redemption.body.id,
    submission: inNotice,
  };
}

describe('supervisors (监督运营) (X1)', () => {
  let w: World;
  before(async function () {
    this.timeout(60_000);
    w = await makeWorld();
  });

  it("reads the village's households, points and submissions, and the stock and sales of the stores serving it; another village's or store's are 404", async () => {
    const { s } = w;
    const h = s.households[0]!.id;
    for (const url of [
      `/v1/villages/${s.villageId}`,
      '/v1/households',
      `/v1/households/${h}`,
      `/v1/households/${h}/account`,
      `/v1/households/${h}/entries`,
      `/v1/submissions?villageId=${s.villageId}`,
      `/v1/submissions/${w.submission.id}`,
      `/v1/stores/${w.storeId}`,
      `/v1/stores/${w.storeId}/items`,
      `/v1/stores/${w.storeId}/items/RICE-5`,
      `/v1/stores/${w.storeId}/items/RICE-5/movements`,
      `/v1/redemptions?storeId=${w.storeId}`,
      `/v1/redemptions/${w.redemptionId}`,
      `/v1/villages/${s.villageId}/boards?month=2026-01`,
      `/v1/service-orders`,
      `/v1/volunteers/${s.volunteers[0]!.id}/hours`,
    ]) {
      const res = await http().get(url).set(s.supervisor.auth);
      expect(res.status, `${url}: ${JSON.stringify(res.body)}`).to.equal(200);
    }
    const stores = await http().get('/v1/stores').set(s.supervisor.auth);
    expect(stores.body.items.map((x: { id: string }) => x.id)).to.deep.equal([w.storeId]);
    const sales = await http().get(`/v1/redemptions?storeId=${w.storeId}`).set(s.supervisor.auth);
    expect(sales.body.items.map((r: { id: string }) => r.id)).to.include(w.redemptionId);
    const elsewhere = await makeVillage({ county: s.county });
    const otherSupervisor = await makeUser('supervisor', { villageId: elsewhere.id });
    for (const url of [
      `/v1/households/${h}`,
      `/v1/submissions/${w.submission.id}`,
      `/v1/stores/${w.storeId}`,
      `/v1/redemptions/${w.redemptionId}`,
      `/v1/villages/${s.villageId}`,
    ]) {
      expect((await http().get(url).set(otherSupervisor.auth)).status, url).to.equal(404);
    }
    expect(
      (await http().get(`/v1/stores/${w.otherStoreId}/items`).set(s.supervisor.auth)).status,
    ).to.equal(404);
    expect(
      (await http().get(`/v1/redemptions?storeId=${w.otherStoreId}`).set(s.supervisor.auth)).status,
    ).to.equal(404);
    expect(
      (await http().get(`/v1/households/${h}/inquiries`).set(s.supervisor.auth)).status,
    ).to.equal(403);
  });

  it('refuses the supervisor on every write route of the API except objecting and flagging, and stores nothing', async function () {
    this.timeout(120_000);
    const { s } = w;
    const doc = (await http().get('/openapi.json')).body as OpenApiDoc;
    const ids: Record<string, string> = {
      households: s.households[1]!.id,
      villages: s.villageId,
      submissions: w.submission.id,
      stores: w.storeId,
      redemptions: w.redemptionId,
      'service-orders': new Types.ObjectId().toHexString(),
      teams: s.team.id,
      volunteers: s.volunteers[0]!.id,
    };
    const bodies: Record<string, Record<string, unknown>> = {
      'POST /v1/submissions/{id}/votes': { decision: 'approve' },
      'POST /v1/submissions/{id}/appeals': { reason: '不服' },
      'POST /v1/submissions/{id}/appeals/decision': { outcome: 'upheld' },
    };
    const allowed = new Set([
      'POST /v1/submissions/{id}/objections',
      'POST /v1/oversight-flags',
      'POST /v1/auth/token',
    ]);
    const before = await countAll();
    const seen: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!['post', 'put', 'patch', 'delete'].includes(method)) continue;
        const name = `${method.toUpperCase()} ${path}`;
        if (allowed.has(name)) continue;
        const url = path.replace(/\{([A-Za-z]+)\}/g, (_, p: string) =>
          p === 'id'
            ? (ids[path.split('/')[2]!] ?? new Types.ObjectId().toHexString())
            : p === 'sku'
              ? 'RICE-5'
              : new Types.ObjectId().toHexString(),
        );
        const roles = /^Roles: (.*)$/.exec(op.description ?? '')?.[1]?.split(', ') ?? [];
        const agent = http();
        const res = await agent[method as 'post'](url)
          .set(s.supervisor.auth)
          .set('Idempotency-Key', newKey())
          .send(bodies[name] ?? {});
        const terminalOnly = roles.length === 1 && roles[0] === 'terminal';
        expect(res.status, `${name}: ${JSON.stringify(res.body)}`).to.equal(
          terminalOnly ? 401 : 403,
        );
        seen.push(name);
      }
    }
    await expectNothingStored(before, 'supervisor writes');
    // The table is the whole API: the point-writing routes are all in it.
    expect(seen).to.include.members([
      'POST /v1/submissions',
      'POST /v1/submissions/{id}/votes',
      'POST /v1/submissions/{id}/appeals/decision',
      'POST /v1/households/{id}/adjustments',
      'POST /v1/redemptions',
      'POST /v1/redemptions/{id}/reversal',
      'POST /v1/redemptions/batch',
      'POST /v1/service-orders/{id}/complete',
      'POST /v1/service-orders/{id}/rating',
      'PUT /v1/households/{id}/kinship',
    ]);
  });

  it('objects to a submission in notice: it goes back to review in a new round', async () => {
    const { s } = w;
    const res = await http()
      .post(`/v1/submissions/${w.submission.id}/objections`)
      .set(s.supervisor.auth)
      .send({ reason: '服务时长与签到表不符' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect([res.body.submission.status, res.body.submission.round]).to.deep.equal(['in_review', 2]);
    expect(res.body.by).to.equal(s.supervisor.user.id);
  });

  it('flags a sale and a stock movement; the flags go to the township station, which resolves each once; another township sees none', async () => {
    const { s } = w;
    const sale = await http()
      .post('/v1/oversight-flags')
      .set(s.supervisor.auth)
      .send({
        target: { type: 'redemption', redemptionId: w.redemptionId },
        reason: '同一户一天内多次兑换大米',
      });
    expect(sale.status, JSON.stringify(sale.body)).to.equal(201);
    expect(sale.body).to.include({ villageId: s.villageId, townshipId: s.townshipId });
    const movement = await http()
      .post('/v1/oversight-flags')
      .set(s.supervisor.auth)
      .send({
        target: { type: 'stock_movement', storeId: w.storeId, sku: 'RICE-5', seq: 2 },
        reason: '出库数量与台账不符',
      });
    expect(movement.status, JSON.stringify(movement.body)).to.equal(201);
    expect(movement.body.target).to.deep.equal({
      type: 'stock_movement',
      storeId: w.storeId,
      sku: 'RICE-5',
      seq: 2,
    });
    // Only what exists, in a store serving the supervisor's village.
    expect(
      (
        await http()
          .post('/v1/oversight-flags')
          .set(s.supervisor.auth)
          .send({
            target: { type: 'stock_movement', storeId: w.storeId, sku: 'RICE-5', seq: 99 },
            reason: 'x',
          })
      ).status,
    ).to.equal(404);
    expect(
      (
        await http()
          .post('/v1/oversight-flags')
          .set(s.supervisor.auth)
          .send({
            target: { type: 'redemption', redemptionId: new Types.ObjectId().toHexString() },
            reason: 'x',
          })
      ).status,
    ).to.equal(404);
    expect(
      (
        await http()
          .post('/v1/oversight-flags')
          .set(s.clerk.auth)
          .send({ target: { type: 'redemption', redemptionId: w.redemptionId }, reason: 'x' })
      ).status,
    ).to.equal(403);

    const queue = await http().get('/v1/oversight-flags').set(s.township.auth);
    expect(queue.body.items.map((f: { id: string }) => f.id)).to.include.members([
      sale.body.id,
      movement.body.id,
    ]);
    expect(
      (await http().get('/v1/oversight-flags').set(s.otherTownship.auth)).body.items.map(
        (f: { id: string }) => f.id,
      ),
    ).to.not.include(sale.body.id);
    expect(
      (
        await http()
          .post(`/v1/oversight-flags/${sale.body.id}/resolution`)
          .set(s.otherTownship.auth)
          .send({ note: 'x' })
      ).status,
    ).to.equal(404);
    expect(
      (
        await http()
          .post(`/v1/oversight-flags/${sale.body.id}/resolution`)
          .set(s.supervisor.auth)
          .send({ note: 'x' })
      ).status,
    ).to.equal(403);
    const resolved = await Promise.all(
      [0, 1, 2].map(() =>
        http()
          .post(`/v1/oversight-flags/${sale.body.id}/resolution`)
          .set(s.township.auth)
          .send({ note: '已核实，系家庭聚餐所需' }),
      ),
    );
    expect(resolved.map((r) => r.status).sort()).to.deep.equal([201, 409, 409]);
    const open = await http().get('/v1/oversight-flags?status=open').set(s.township.auth);
    expect(open.body.items.map((f: { id: string }) => f.id))
      .to.include(movement.body.id)
      .and.not.include(sale.body.id);
    const all = await http().get('/v1/oversight-flags?status=all').set(s.supervisor.auth);
    expect(
      all.body.items.find((f: { id: string }) => f.id === sale.body.id).resolution.note,
    ).to.equal('已核实，系家庭聚餐所需');
  });
});
