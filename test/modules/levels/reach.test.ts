/**
 * The new roles on every read route: taken from /openapi.json, every GET route with a record in
 * its path is called for records of one village by a township officer of another township and
 * by supervisors of other villages (of the same township, and of another). None of them may read
 * it: each answer is 404 (the record's existence is not revealed) or 403 (the role has no
 * business there), never 200. The roles' own village and township read what is theirs.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { http, makeStore, makeTerminal, makeUser } from '../../support/factories';
import { createItem } from '../../../src/modules/stores/items.service';
import { fund, newKey } from '../redemption/scene';
import type { OpenApiDoc } from '../validation/openapi-table';
import { makeServiceScene, order } from '../service-orders/scene';

describe('reach of the township and supervisor roles on every read route', () => {
  it("gives another township's officer and other villages' supervisors 404 or 403 for a village's records, and the village's own 200", async function () {
    this.timeout(120_000);
    const s = await makeServiceScene();
    const store = await makeStore([s.villageId]);
    await createItem(store.id, { sku: 'RICE-5', name: '大米', points: 5, stock: 9 });
    const terminal = await makeTerminal(store.id);
    const household = (await http().get(`/v1/households/${s.households[0]!.id}`).set(s.admin.auth))
      .body;
    await fund(household.id, 50);
    const redemption = (
      await http()
        .post('/v1/redemptions')
        .set(terminal.auth)
        .set('Idempotency-Key', newKey())
        .send({ cardNo: household.cardNo, items: [{ sku: 'RICE-5', qty: 1 }] })
    ).body;
    const submission = (
      await http()
        .post('/v1/submissions')
        .set(s.clerk.auth)
        .send({
          villageId: s.villageId,
          householdId: household.id,
          ruleCode: s.rule.code,
          quantity: 1,
          occurredOn: new Date().toISOString().slice(0, 10),
          evidence: { text: '签到表' },
        })
    ).body;
    const o = await order(s);
    const ids: Record<string, string> = {
      households: household.id,
      villages: s.villageId,
      submissions: submission.id,
      'service-orders': o.id,
      volunteers: s.volunteers[0]!.id,
      teams: s.team.id,
      stores: store.id,
      redemptions: redemption.id,
      townships: s.townshipId,
    };
    const urlOf = (path: string) =>
      path.replace(/\{([A-Za-z]+)\}/g, (_, p: string) =>
        p === 'id'
          ? (ids[path.split('/')[2]!] ?? new Types.ObjectId().toHexString())
          : p === 'sku'
            ? 'RICE-5'
            : p === 'code'
              ? s.rule.code
              : new Types.ObjectId().toHexString(),
      );
    const query = (path: string) => (path.endsWith('/boards') ? '?month=2026-01' : '');
    const outsiders = {
      'township of another township': s.otherTownship,
      'supervisor of another village of the township': await makeUser('supervisor', {
        villageId: s.village2Id,
      }),
      'supervisor of a village of another township': await makeUser('supervisor', {
        villageId: s.otherVillageId,
      }),
    };
    const doc = (await http().get('/openapi.json')).body as OpenApiDoc;
    // Routes a person's token may call at all (a terminal-only route refuses every person's token
    // as the wrong kind of token, 401, whoever they are: tested in test/modules/auth).
    const routes = Object.entries(doc.paths).filter(
      ([path, ops]) => ops.get && path.includes('{') && ops.get.description !== 'Roles: terminal',
    );
    let checked = 0;
    for (const [path] of routes) {
      const url = `${urlOf(path)}${query(path)}`;
      for (const [who, user] of Object.entries(outsiders)) {
        const res = await http().get(url).set(user.auth);
        expect(
          [403, 404],
          `${who}: GET ${path} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
        ).to.include(res.status);
        checked++;
      }
    }
    expect(routes.length).to.be.above(25);
    // Not vacuous: the village's own supervisor and township read these same records.
    for (const path of [
      '/v1/households/{id}',
      '/v1/submissions/{id}',
      '/v1/service-orders/{id}',
      '/v1/volunteers/{id}/hours',
      '/v1/teams/{id}',
      '/v1/villages/{id}/boards',
      '/v1/households/{id}/kinship',
    ]) {
      for (const user of [s.supervisor, s.township]) {
        const res = await http()
          .get(`${urlOf(path)}${query(path)}`)
          .set(user.auth);
        expect(
          res.status,
          `${user.user.role}: GET ${path} ${JSON.stringify(res.body).slice(0, 200)}`,
        ).to.equal(200);
      }
    }
    for (const path of [
      '/v1/stores/{id}/items',
      '/v1/redemptions/{id}',
      '/v1/villages/{id}/concentration',
    ]) {
      expect((await http().get(urlOf(path)).set(s.supervisor.auth)).status, path).to.equal(200);
    }
    expect((await http().get(urlOf('/v1/townships/{id}')).set(s.township.auth)).status).to.equal(
      200,
    );
    process.stdout.write(
      `      (${routes.length} read routes × ${Object.keys(outsiders).length} outsiders checked: ${checked} requests)\n`,
    );
  });
});
