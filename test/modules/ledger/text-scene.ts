/**
 * A village for the text tests, driven through the API the way its people would: an admin who
 * corrects and sets up the shop, a clerk who files, one council member who approves (quorum 1,
 * no notice period, so an approval posts at once), households with their own logins, and a
 * points supermarket with one terminal. Every path that writes text into a ledger entry is a
 * helper here: adjustments (the reason), council postings and appeal reversals (the rule's
 * title), redemptions (the item names) and their reversals.
 */
import { randomBytes } from 'node:crypto';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeHousehold,
  makeTerminal,
  makeUser,
  makeVillage,
  type TestUser,
} from '../../support/factories';
import { clock } from '../../../src/platform/clock';

export interface TextScene {
  admin: TestUser;
  clerk: TestUser;
  council: TestUser;
  villageId: string;
  households: { id: string; cardNo: string; user: TestUser }[];
  storeId: string;
  terminal: Awaited<ReturnType<typeof makeTerminal>>;
}

/** A JSON response body, read loosely as a client would. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

const ok = (res: { status: number; body: unknown }, status: number, what: string) => {
  expect(res.status, `${what}: ${JSON.stringify(res.body).slice(0, 300)}`).to.equal(status);
};

export async function makeTextScene(households: number): Promise<TextScene> {
  const village = await makeVillage({ quorum: 1, noticePeriod: 'PT0S' });
  const admin = await makeAdmin();
  const list: TextScene['households'] = [];
  for (let i = 0; i < households; i++) {
    const h = await makeHousehold(village.id);
    list.push({
      id: h.id,
      cardNo: h.cardNo,
      user: await makeUser('household', { householdId: h.id }),
    });
  }
  const store = await http()
    .post('/v1/stores')
    .set(admin.auth)
    .send({ name: '公益超市', villageIds: [village.id] });
  ok(store, 201, 'store');
  return {
    admin,
    clerk: await makeUser('clerk', { villageId: village.id }),
    council: await makeUser('council', { villageId: village.id }),
    villageId: village.id,
    households: list,
    storeId: store.body.id,
    terminal: await makeTerminal(store.body.id),
  };
}

/** POST /v1/households/:id/adjustments as the admin (raw response). */
export function adjustVia(
  s: TextScene,
  householdId: string,
  reason: string,
  points: number,
  key?: string,
) {
  const req = http().post(`/v1/households/${householdId}/adjustments`).set(s.admin.auth);
  if (key) req.set('Idempotency-Key', key);
  return req.send({ points, reason });
}

/** POST /v1/rules as the admin with this title; returns the rule's code. */
export async function makeRuleVia(
  s: TextScene,
  title: string,
  kind: 'award' | 'deduction',
  points: number,
): Promise<string> {
  const code = `T${randomBytes(8).toString('hex')}`;
  const res = await http().post('/v1/rules').set(s.admin.auth).send({ code, title, kind, points });
  ok(res, 201, `rule ${JSON.stringify(title)}`);
  return code;
}

export const shanghaiToday = (): string =>
  new Date(clock.now().getTime() + 8 * 3600_000).toISOString().slice(0, 10);

/** Files under a rule as the clerk and approves as the council: posted at once. Returns the submission. */
export async function fileAndPost(
  s: TextScene,
  ruleCode: string,
  householdId: string,
  evidence = '村委会核实',
): Promise<Json> {
  const filed = await http()
    .post('/v1/submissions')
    .set(s.clerk.auth)
    .send({
      villageId: s.villageId,
      householdId,
      ruleCode,
      occurredOn: shanghaiToday(),
      evidence: { text: evidence },
    });
  ok(filed, 201, 'file');
  const voted = await http()
    .post(`/v1/submissions/${filed.body.id}/votes`)
    .set(s.council.auth)
    .send({ decision: 'approve' });
  ok(voted, 200, 'vote');
  expect(voted.body.status).to.equal('posted');
  return voted.body;
}

/** The household appeals a posted deduction and the county office upholds it: one reversal entry. Returns the appeal. */
export async function appealAndUphold(
  s: TextScene,
  submissionId: string,
  household: TextScene['households'][number],
): Promise<Json> {
  const appeal = await http()
    .post(`/v1/submissions/${submissionId}/appeals`)
    .set(household.user.auth)
    .send({ reason: '情况不实，请求复核' });
  ok(appeal, 201, 'appeal');
  const decided = await http()
    .post(`/v1/submissions/${submissionId}/appeals/decision`)
    .set(s.admin.auth)
    .send({ outcome: 'upheld' });
  ok(decided, 200, 'decide');
  return decided.body;
}

/** POST /v1/stores/:id/items as the admin; returns the sku. */
export async function makeItemVia(s: TextScene, name: string, points: number): Promise<string> {
  const sku = `S${randomBytes(6).toString('hex')}`;
  const res = await http()
    .post(`/v1/stores/${s.storeId}/items`)
    .set(s.admin.auth)
    .send({ sku, name, points, stock: 100_000 });
  ok(res, 201, `item ${JSON.stringify(name)}`);
  return sku;
}

/** POST /v1/redemptions as the terminal; returns the redemption. */
export async function redeemVia(
  s: TextScene,
  cardNo: string,
  items: { sku: string; qty: number }[],
): Promise<Json> {
  const res = await http()
    .post('/v1/redemptions')
    .set(s.terminal.auth)
    .set('Idempotency-Key', `k-${randomBytes(8).toString('hex')}`)
    .send({ cardNo, items });
  ok(res, 201, 'redeem');
  return res.body;
}

export async function reverseVia(s: TextScene, redemptionId: string): Promise<Json> {
  const res = await http().post(`/v1/redemptions/${redemptionId}/reversal`).set(s.terminal.auth);
  ok(res, 201, 'reverse');
  return res.body;
}

/** A redemption entry's full reason before any cut: what the basket says. */
export const basketText = (items: { name: string; qty: number }[]): string =>
  `积分兑换：${items.map((i) => `${i.name}×${i.qty}`).join('、')}`;
