/**
 * Factories: records with sensible defaults, made through the module services (the routes
 * under test are exercised by the tests themselves). Unique values come from a counter.
 */
import { createHash, randomBytes } from 'node:crypto';
import canonicalize from 'canonicalize';
import request from 'supertest';
import { expect } from './expect';
import type { Role } from '../../src/platform/principal';
import {
  insertHousehold,
  type HouseholdView,
} from '../../src/modules/households/households.service';
import { createUser, type UserView } from '../../src/modules/users/users.service';
import { createVillage, type VillageView } from '../../src/modules/villages/villages.service';
import { createStore, createTerminal } from '../../src/modules/stores/stores.service';
import { createCooperative } from '../../src/modules/cooperatives/cooperatives.service';
import { ctx } from './context';

let counter = 0;
export const unique = (prefix: string): string =>
  `${prefix}${Date.now().toString(36)}${(++counter).toString(36)}${randomBytes(2).toString('hex')}`;

export const http = () => request(ctx().app);

export async function makeVillage(
  overrides: Partial<{
    name: string;
    code: string;
    quorum: number;
    noticePeriod: string;
    occurredOnWindowDays: number;
    township: string;
    county: string;
  }> = {},
): Promise<VillageView> {
  return createVillage({
    name: overrides.name ?? '测试村',
    code: overrides.code ?? unique('V'),
    township: overrides.township ?? '测试镇',
    county: overrides.county ?? '测试县',
    policy: {
      quorum: overrides.quorum ?? 1,
      noticePeriod: overrides.noticePeriod ?? 'PT0S',
      ...(overrides.occurredOnWindowDays !== undefined
        ? { occurredOnWindowDays: overrides.occurredOnWindowDays }
        : {}),
    },
  });
}

export async function makeHousehold(
  villageId: string,
  overrides: Partial<{ head: string; cardNo: string }> = {},
): Promise<HouseholdView> {
  return insertHousehold({
    villageId,
    head: overrides.head ?? '张三',
    members: [{ name: '李四' }],
    cardNo: overrides.cardNo ?? unique('C'),
  });
}

export interface TestUser {
  user: UserView;
  username: string;
  password: string;
  token: string;
  auth: { Authorization: string };
}

export async function makeUser(
  role: Role,
  scope: {
    villageId?: string;
    householdId?: string;
    cooperativeId?: string;
    storeId?: string;
    townshipId?: string;
    volunteerId?: string;
  } = {},
): Promise<TestUser> {
  const username = unique(role);
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const user = await createUser(
    undefined,
    { username, password, role, ...scope },
    ctx().config.passwordKdfLog2N,
  );
  const token = ctx().tokens.sign(
    { sub: user.id, role },
    role === 'terminal' ? 'terminal' : 'person',
  );
  return { user, username, password, token, auth: { Authorization: `Bearer ${token}` } };
}

export const makeAdmin = () => makeUser('admin');

export async function makeStore(villageIds: string[]) {
  return createStore({ name: '公益超市', villageIds });
}

export async function makeTerminal(storeId: string) {
  const t = await createTerminal(storeId, ctx().config.passwordKdfLog2N);
  const token = ctx().tokens.sign({ sub: t.id, role: 'terminal' }, 'terminal');
  return { ...t, token, auth: { Authorization: `Bearer ${token}` } };
}

export async function makeCooperative(villageIds: string[]) {
  return createCooperative({ name: '农村信用合作社', villageIds });
}

/**
 * Recomputes a household's chain from the entries endpoint alone, as any outside holder of
 * the entries could, and asserts every link, hash and balance. Returns the entries.
 */
export async function verifyChainViaApi(householdId: string, auth: { Authorization: string }) {
  const all: Record<string, unknown>[] = [];
  let after = 0;
  for (;;) {
    const res = await http()
      .get(`/v1/households/${householdId}/entries?after=${after}&limit=500`)
      .set(auth);
    expect(res.status).to.equal(200);
    all.push(...res.body.items);
    if (res.body.next === null) break;
    after = res.body.next;
  }
  let prevHash = '0'.repeat(64);
  let spendable = 0;
  let merit = 0;
  all.forEach((e, i) => {
    expect(e.seq).to.equal(i + 1);
    expect(e.prevHash).to.equal(prevHash);
    const { hash, ...rest } = e;
    const recomputed = createHash('sha256')
      .update(canonicalize({ ...rest, householdId })!)
      .digest('hex');
    expect(recomputed, `hash of seq ${e.seq}`).to.equal(hash);
    spendable += e.spendableDelta as number;
    merit += e.meritDelta as number;
    expect(e.spendableAfter).to.equal(spendable);
    expect(e.meritAfter).to.equal(merit);
    expect(spendable).to.be.at.least(0);
    prevHash = hash as string;
  });
  return all;
}
