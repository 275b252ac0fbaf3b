/**
 * The demo county: what `npm start` puts in a fresh local database so a newcomer can sign in
 * with every role and see balances at once. The county, township and villages are fictional.
 *
 * Invariants:
 * - Runs at most once per database: the first step inserts the marker `meta/_id: demo-seed`;
 *   the unique `_id` decides a race between two starters, and a later call returns undefined
 *   without touching anything. (If a process dies half-way, the marker stays `running` and
 *   the seed is not retried: the credentials of users it made are lost, so a retry could not
 *   print them. Drop the database to start over.)
 * - Everything it creates goes through the module services (points only through `postEntry`,
 *   each posting with its own source id), so demo data obeys the same rules as real data.
 * - Demo records are recognisable: village codes `DEMO-nn`, card numbers `DM-nnnn`, usernames
 *   `demo-…`, ledger sources of type `demo-seed`. They never collide with real ones.
 * - Passwords and the terminal secret are random, returned once, and stored only as hashes;
 *   `writeCredentialsFile` keeps them for the local operator in a 0600 file.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { isDuplicateKeyError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { Role } from '../../platform/principal';
import { createCooperative } from '../cooperatives/cooperatives.service';
import { insertHousehold, type HouseholdView } from '../households/households.service';
import { postEntry, type PostEntryInput } from '../ledger/ledger.service';
import { createStore, createTerminal } from '../stores/stores.service';
import { createUser } from '../users/users.service';
import { createVillage, type VillageView } from '../villages/villages.service';
import { between, createRng, generateHouseholds, pick, type Rng } from './demo.names';
import { seedDemoRules } from '../rules/rules.demo';
import { seedDemoActivity } from './demo.activity';
import type { IdNumberHasher } from '../volunteers/id-number';
import { seedDemoVolunteerService } from './demo.volunteers';

export const DEMO_MARKER_ID = 'demo-seed';
/** The source type of every demo ledger posting. */
export const DEMO_SOURCE_TYPE = 'demo-seed';
const DEFAULT_SEED = 20240601;
const DEFAULT_HOUSEHOLDS = 100;
/** Password hashes computed at once: scrypt takes ~32 MiB each at the default cost. */
const HASH_CONCURRENCY = 4;

const COUNTY = '祁丰县';
const TOWNSHIP = '松岭镇';
const VILLAGES = [
  { name: '红星村', code: 'DEMO-01' },
  { name: '柳树湾村', code: 'DEMO-02' },
  { name: '东坡村', code: 'DEMO-03' },
] as const;
/** Two approvals and a ten-minute notice, so a demo submission posts while the visitor waits. */
const DEMO_POLICY = { quorum: 2, noticePeriod: 'PT10M' };
const COUNCIL_PER_VILLAGE = 3;
const HOUSEHOLD_LOGINS_PER_VILLAGE = 2;

/** Awards and deductions a village council would plausibly have posted (demo only). */
const AWARDS = [
  { reason: '参加村庄环境整治志愿服务 4 小时', points: 8 },
  { reason: '照顾村里孤寡老人', points: 10 },
  { reason: '婚事新办，不收高额彩礼', points: 20 },
  { reason: '评为“最美家庭”', points: 30 },
  { reason: '义务调解邻里纠纷', points: 5 },
  { reason: '参加新时代文明实践政策宣讲', points: 3 },
  { reason: '拾金不昧', points: 10 },
] as const;
const DEDUCTIONS = [
  { reason: '操办酒席超出村规民约标准', points: 15 },
  { reason: '参与赌博', points: 20 },
  { reason: '不赡养老人，经调解仍未改正', points: 30 },
] as const;
const REDEMPTIONS = [
  '公益超市兑换：洗衣粉 1 袋',
  '公益超市兑换：食用油 1 桶',
  '公益超市兑换：大米 5 斤',
  '公益超市兑换：学习用品',
] as const;

export interface DemoLogin {
  role: Exclude<Role, 'terminal'>;
  username: string;
  password: string;
  /** Who the login acts for, in words (village, household, cooperative). */
  scope: string;
}

export interface DemoCredentials {
  county: string;
  township: string;
  villages: { id: string; name: string; code: string; households: number }[];
  households: number;
  entries: number;
  volunteerService: { volunteers: number; teams: number; orders: number; menuItems: number };
  logins: DemoLogin[];
  store: { id: string; name: string };
  cooperative: { id: string; name: string };
  terminal: { clientId: string; clientSecret: string; storeName: string };
}

export interface SeedDemoOptions {
  /** scrypt cost for the demo passwords (config.passwordKdfLog2N). */
  kdfLog2N: number;
  /** The keyed hash of volunteers' ID numbers (volunteers/id-number.ts). */
  idHasher: IdNumberHasher;
  /** PRNG seed: the same seed gives the same names and points. */
  seed?: number;
  /** Number of households (default 100), spread over the three villages. */
  households?: number;
  /** When set, the credentials are written here (mode 0600) before the seed counts as done. */
  credentialsFile?: string;
  logger?: Logger;
}

interface MetaDoc {
  _id: string;
  status: 'running' | 'done';
  startedAt: Date;
  finishedAt?: Date;
  seed?: number;
}

const meta = () => {
  const db = mongoose.connection.db;
  if (!db) throw new Error('not connected');
  return db.collection<MetaDoc>('meta');
};

/** A random password of 16 URL-safe characters (96 bits). */
const demoPassword = (): string => randomBytes(12).toString('base64url');

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Seeds the demo county once per database. Returns the credentials the first time, and
 * undefined on every later call (the first call's credentials were printed and written then).
 */
export async function seedDemoCounty(opts: SeedDemoOptions): Promise<DemoCredentials | undefined> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const householdCount = opts.households ?? DEFAULT_HOUSEHOLDS;
  try {
    await meta().insertOne({ _id: DEMO_MARKER_ID, status: 'running', startedAt: new Date(), seed });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const marker = await meta().findOne({ _id: DEMO_MARKER_ID });
    if (marker?.status === 'running') {
      opts.logger?.warn(
        { startedAt: marker.startedAt },
        'a demo seed started earlier and has not finished (still running elsewhere, or it died half-way)',
      );
    }
    return undefined;
  }
  opts.logger?.info({ seed, households: householdCount }, 'seeding the demo county');

  const villages: VillageView[] = [];
  for (const v of VILLAGES)
    villages.push(
      await createVillage({ ...v, township: TOWNSHIP, county: COUNTY, policy: DEMO_POLICY }),
    );
  const villageIds = villages.map((v) => v.id);
  const cooperative = await createCooperative({
    name: `${COUNTY}农村信用合作联社${TOWNSHIP}信用社`,
    villageIds,
  });
  const store = await createStore({ name: `${TOWNSHIP}新时代文明实践公益超市`, villageIds });

  const roster = generateHouseholds(seed, householdCount);
  const households: HouseholdView[] = [];
  for (const [i, h] of roster.entries()) {
    // Contiguous blocks per village, like the card ranges a county hands out.
    const village = villages[Math.floor((i * villages.length) / roster.length)]!;
    const cardNo = `DM-${String(i + 1).padStart(4, '0')}`;
    households.push(
      await insertHousehold({
        villageId: village.id,
        head: h.head,
        members: h.members.map((name) => ({ name })),
        cardNo,
      }),
    );
  }

  const rng = createRng(seed ^ 0x5eed);
  const postings = households.map((h) => demoPostings(rng, h));
  // One at a time: FerretDB's SQLite backend serialises writes, and parallel posts only add
  // contention (measured: 14 ms per post in sequence, 47 ms each with 50 in flight).
  for (const list of postings) for (const p of list) await postEntry(p);

  // The county's rule catalogue (积分细则), so the council workflow has rules to file under.
  await seedDemoRules();
  const service = await seedDemoVolunteerService({
    villages,
    households,
    hasher: opts.idHasher,
    rng: createRng(seed ^ 0x70107),
  });
  const { logins, ids } = await createLogins(
    opts.kdfLog2N,
    villages,
    households,
    cooperative.id,
    service.volunteerOfHousehold,
  );
  const terminal = await createTerminal(store.id, opts.kdfLog2N);
  // Goods, sales, consents and submissions in every state, so every page has something to show.
  await seedDemoActivity({
    villages,
    households,
    staff: new Map(
      villages.map((v, i) => {
        const nn = String(i + 1).padStart(2, '0');
        return [
          v.id,
          {
            clerk: ids.get(`demo-clerk-${nn}`)!,
            council: Array.from({ length: COUNCIL_PER_VILLAGE }, (_, k) =>
              ids.get(`demo-council-${nn}-${k + 1}`)!,
            ),
          },
        ];
      }),
    ),
    storeId: store.id,
    terminalId: terminal.id,
    cooperativeId: cooperative.id,
    policy: DEMO_POLICY,
  });

  const credentials: DemoCredentials = {
    county: COUNTY,
    township: TOWNSHIP,
    villages: villages.map((v) => ({
      id: v.id,
      name: v.name,
      code: v.code,
      households: households.filter((h) => h.villageId === v.id).length,
    })),
    households: households.length,
    entries: postings.reduce((n, list) => n + list.length, 0),
    volunteerService: {
      volunteers: service.volunteers,
      teams: service.teams,
      orders: service.orders,
      menuItems: service.menuItems,
    },
    logins,
    store: { id: store.id, name: store.name },
    cooperative: { id: cooperative.id, name: cooperative.name },
    terminal: {
      clientId: terminal.clientId,
      clientSecret: terminal.clientSecret,
      storeName: store.name,
    },
  };
  if (opts.credentialsFile) writeCredentialsFile(opts.credentialsFile, credentials);
  await meta().updateOne(
    { _id: DEMO_MARKER_ID },
    { $set: { status: 'done', finishedAt: new Date() } },
  );
  opts.logger?.info(
    { households: credentials.households, entries: credentials.entries },
    'demo county seeded',
  );
  return credentials;
}

/** An opening balance, a few awards, sometimes a deduction or a supermarket redemption. */
function demoPostings(rng: Rng, h: HouseholdView): PostEntryInput[] {
  const list: PostEntryInput[] = [];
  const source = () => ({ type: DEMO_SOURCE_TYPE, id: `${h.cardNo}:${list.length + 1}` });
  let spendable = 0;
  const opening = 10 * between(rng, 2, 12);
  list.push({
    householdId: h.id,
    type: 'adjustment',
    points: opening,
    spendableDelta: opening,
    meritDelta: opening,
    shortfall: 'clamp',
    source: source(),
    reason: '期初积分（演示数据）',
  });
  spendable += opening;
  for (let n = between(rng, 0, 3); n > 0; n--) {
    const a = pick(rng, AWARDS);
    list.push({
      householdId: h.id,
      type: 'award',
      points: a.points,
      spendableDelta: a.points,
      meritDelta: a.points,
      shortfall: 'reject',
      source: source(),
      reason: `${a.reason}（演示数据）`,
    });
    spendable += a.points;
  }
  if (rng() < 0.1) {
    const d = pick(rng, DEDUCTIONS);
    // A deduction takes merit in full and spendable only as far as it goes (I2).
    const fromSpendable = Math.min(d.points, spendable);
    list.push({
      householdId: h.id,
      type: 'deduction',
      points: -d.points,
      spendableDelta: -d.points,
      meritDelta: -d.points,
      shortfall: 'clamp',
      source: source(),
      reason: `${d.reason}（演示数据）`,
    });
    spendable -= fromSpendable;
  }
  if (rng() < 0.3 && spendable >= 10) {
    // Spending lowers what can be spent, never what was earned (merit).
    const cost = Math.min(spendable, 5 * between(rng, 2, 8));
    list.push({
      householdId: h.id,
      type: 'redemption',
      points: -cost,
      spendableDelta: -cost,
      meritDelta: 0,
      shortfall: 'reject',
      source: source(),
      reason: `${pick(rng, REDEMPTIONS)}（演示数据）`,
    });
  }
  return list;
}

async function createLogins(
  kdfLog2N: number,
  villages: VillageView[],
  households: HouseholdView[],
  cooperativeId: string,
  volunteerOfHousehold: ReadonlyMap<string, string>,
): Promise<{ logins: DemoLogin[]; ids: Map<string, string> }> {
  type Spec = {
    role: DemoLogin['role'];
    username: string;
    name?: string;
    scope: string;
    villageId?: string;
    householdId?: string;
    cooperativeId?: string;
    townshipId?: string;
    volunteerId?: string;
  };
  const specs: Spec[] = [
    { role: 'admin', username: 'demo-admin', scope: `${COUNTY}新时代文明实践中心（县级管理员）` },
    {
      role: 'township',
      username: 'demo-township',
      scope: `${TOWNSHIP}新时代文明实践所（乡镇：申诉复核、超时派单）`,
      townshipId: villages[0]!.townshipId!,
    },
  ];
  villages.forEach((v, i) => {
    const nn = String(i + 1).padStart(2, '0');
    specs.push({
      role: 'clerk',
      username: `demo-clerk-${nn}`,
      scope: `${v.name}（${v.code}）村文书`,
      villageId: v.id,
    });
    specs.push({
      role: 'supervisor',
      username: `demo-supervisor-${nn}`,
      scope: `${v.name}（${v.code}）监督运营`,
      villageId: v.id,
    });
    for (let k = 1; k <= COUNCIL_PER_VILLAGE; k++) {
      specs.push({
        role: 'council',
        username: `demo-council-${nn}-${k}`,
        scope: `${v.name}（${v.code}）道德评议会成员`,
        villageId: v.id,
      });
    }
    for (const h of households
      .filter((x) => x.villageId === v.id)
      .slice(0, HOUSEHOLD_LOGINS_PER_VILLAGE)) {
      const volunteerId = volunteerOfHousehold.get(h.id);
      specs.push({
        role: 'household',
        username: `demo-household-${h.cardNo.slice(3)}`,
        scope: `${v.name} 户主 ${h.head}（卡号 ${h.cardNo}）${volunteerId ? '，志愿者' : ''}`,
        householdId: h.id,
        ...(volunteerId ? { volunteerId } : {}),
      });
    }
  });
  specs.push({
    role: 'officer',
    username: 'demo-officer',
    name: '马建华',
    scope: `${COUNTY}农村信用合作联社 信贷员`,
    cooperativeId,
  });

  const ids = new Map<string, string>();
  const logins = await mapLimit(specs, HASH_CONCURRENCY, async ({ scope, ...spec }) => {
    const password = demoPassword();
    const user = await createUser(undefined, { ...spec, password }, kdfLog2N);
    ids.set(spec.username, user.id);
    return { role: spec.role, username: spec.username, password, scope };
  });
  return { logins, ids };
}

/** The credentials as text for the terminal and the credentials file. */
export function formatCredentials(c: DemoCredentials): string {
  const lines = [
    `Demo county ${c.county} ${c.township}: ${c.villages.map((v) => `${v.name} (${v.code}, ${v.households} households)`).join(', ')}.`,
    `${c.households} households, ${c.entries} ledger entries. Sign in with POST /v1/auth/token.`,
    `Volunteer service: ${c.volunteerService.volunteers} volunteers, ${c.volunteerService.teams} teams, a menu of ${c.volunteerService.menuItems} items, ${c.volunteerService.orders} orders.`,
    'These secrets are shown once; they are stored only as hashes.',
    '',
    `${'role'.padEnd(12)}${'username'.padEnd(24)}${'password'.padEnd(20)}scope`,
    ...c.logins.map(
      (l) => `${l.role.padEnd(12)}${l.username.padEnd(24)}${l.password.padEnd(20)}${l.scope}`,
    ),
    '',
    `terminal  clientId ${c.terminal.clientId}  clientSecret ${c.terminal.clientSecret}  (${c.terminal.storeName})`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Writes the credentials for the local operator, readable by the owner only (0600). */
export function writeCredentialsFile(file: string, c: DemoCredentials): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, formatCredentials(c), { mode: 0o600 });
  // writeFileSync applies the mode only when it creates the file; an old file keeps its own.
  chmodSync(file, 0o600);
}
