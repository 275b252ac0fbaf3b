/**
 * A points supermarket scene for the redemption tests: a village, households with points, a
 * store serving the village, terminals and items, all made through the module services; and
 * checks that read points, stock and records back through the API, as a counter or an auditor
 * would.
 */
import { randomBytes } from 'node:crypto';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeHousehold,
  makeStore,
  makeTerminal,
  makeVillage,
  unique,
  verifyChainViaApi,
  type TestUser,
} from '../../support/factories';
import { postEntry } from '../../../src/modules/ledger/ledger.service';
import { createItem } from '../../../src/modules/stores/items.service';
import { updateVillagePolicy } from '../../../src/modules/villages/villages.service';

export type Terminal = Awaited<ReturnType<typeof makeTerminal>>;

export interface Scene {
  admin: TestUser;
  villageId: string;
  storeId: string;
  terminals: Terminal[];
  households: { id: string; cardNo: string }[];
  items: Record<string, { id: string; sku: string; points: number }>;
}

export const newKey = (): string => `k-${randomBytes(8).toString('hex')}`;

/** Households whose chains a test touched; `verifyTouchedChains` checks them after each test. */
const touched = new Map<string, { Authorization: string }>();

/** After every ledger test: each chain the test touched verifies from the entries alone. */
export async function verifyTouchedChains(): Promise<void> {
  const all = [...touched];
  touched.clear();
  for (const [householdId, auth] of all) await verifyChainViaApi(householdId, auth);
}

/** Gives a household spendable points (and merit) through the ledger, as an award would. */
export async function fund(householdId: string, points: number): Promise<void> {
  await postEntry({
    householdId,
    type: 'adjustment',
    points,
    spendableDelta: points,
    meritDelta: points,
    shortfall: 'clamp',
    source: { type: 'adjustment', id: `fund-${randomBytes(8).toString('hex')}` },
    reason: '测试充值',
  });
}

export async function makeScene(
  opts: {
    terminals?: number;
    households?: number;
    points?: number;
    items?: { sku: string; name?: string; points: number; stock: number }[];
    dailyLimit?: number;
  } = {},
): Promise<Scene> {
  const admin = await makeAdmin();
  const village = await makeVillage();
  if (opts.dailyLimit !== undefined)
    await updateVillagePolicy(village.id, { redemptionDailyLimit: opts.dailyLimit });
  const store = await makeStore([village.id]);
  const terminals: Terminal[] = [];
  for (let i = 0; i < (opts.terminals ?? 1); i++) terminals.push(await makeTerminal(store.id));
  const households: { id: string; cardNo: string }[] = [];
  for (let i = 0; i < (opts.households ?? 1); i++) {
    const h = await makeHousehold(village.id);
    if (opts.points) await fund(h.id, opts.points);
    households.push({ id: h.id, cardNo: h.cardNo });
    touched.set(h.id, admin.auth);
  }
  const items: Scene['items'] = {};
  for (const it of opts.items ?? [{ sku: 'RICE', name: '大米5斤', points: 10, stock: 1000 }]) {
    const view = await createItem(store.id, {
      sku: it.sku,
      name: it.name ?? `商品${it.sku}`,
      points: it.points,
      stock: it.stock,
    });
    items[it.sku] = { id: view.id, sku: it.sku, points: it.points };
  }
  return { admin, villageId: village.id, storeId: store.id, terminals, households, items };
}

/** POST /v1/redemptions as a terminal. */
export function redeemVia(t: Terminal, key: string | undefined, body: Record<string, unknown>) {
  const req = http().post('/v1/redemptions').set(t.auth);
  if (key !== undefined) req.set('Idempotency-Key', key);
  return req.send(body);
}

export async function account(
  s: Scene,
  householdId: string,
): Promise<{ spendable: number; merit: number; entryCount: number }> {
  const res = await http().get(`/v1/households/${householdId}/account`).set(s.admin.auth);
  expect(res.status).to.equal(200);
  return res.body;
}

export async function stockOfSku(s: Scene, sku: string): Promise<number> {
  const res = await http().get(`/v1/stores/${s.storeId}/items/${sku}`).set(s.admin.auth);
  expect(res.status).to.equal(200);
  return res.body.stock;
}

export async function entriesOf(s: Scene, householdId: string): Promise<Record<string, unknown>[]> {
  return verifyChainViaApi(householdId, s.admin.auth);
}

/** Every redemption of the store, through the API (all pages). */
export async function redemptionsOf(s: Scene): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  let before: string | null = null;
  for (;;) {
    const res: { status: number; body: { items: Record<string, unknown>[]; next: string | null } } =
      await http()
        .get(`/v1/redemptions?storeId=${s.storeId}&limit=200${before ? `&before=${before}` : ''}`)
        .set(s.admin.auth);
    expect(res.status).to.equal(200);
    all.push(...res.body.items);
    if (!res.body.next) return all;
    before = res.body.next;
  }
}

/**
 * The books agree: for one household and the store's items, the chain verifies, and what the
 * redemption records say was confirmed (and not reversed) is exactly what left the ledger and
 * the shelves. Returns the figures for further assertions.
 */
export async function expectBooksAgree(
  s: Scene,
  opening: { points: Record<string, number>; stock: Record<string, number> },
) {
  const records = await redemptionsOf(s);
  for (const r of records)
    expect(r.status, `redemption ${r.id as string} settled`).to.not.equal('pending');
  const live = records.filter((r) => r.status === 'confirmed');
  for (const h of s.households) {
    const entries = await entriesOf(s, h.id);
    const spentOnLedger = entries
      .filter((e) => e.type === 'redemption' || e.type === 'reversal')
      .reduce((sum, e) => sum - (e.spendableDelta as number), 0);
    const spentOnRecords = live
      .filter((r) => r.householdId === h.id)
      .reduce((sum, r) => sum + (r.points as number), 0);
    expect(spentOnLedger, `points of ${h.id}`).to.equal(spentOnRecords);
    const acc = await account(s, h.id);
    expect(acc.spendable).to.equal((opening.points[h.id] ?? 0) - spentOnRecords);
    expect(acc.merit, 'merit is never touched by redemption').to.equal(opening.points[h.id] ?? 0);
  }
  for (const sku of Object.keys(s.items)) {
    const out = live.reduce(
      (sum, r) =>
        sum +
        (r.items as { sku: string; qty: number }[])
          .filter((l) => l.sku === sku)
          .reduce((a, l) => a + l.qty, 0),
      0,
    );
    expect(await stockOfSku(s, sku), `stock of ${sku}`).to.equal((opening.stock[sku] ?? 0) - out);
  }
  return { records, live };
}

export { unique };
