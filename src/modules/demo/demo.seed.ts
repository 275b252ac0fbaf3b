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
 * - Everything it creates goes through the module services (points only through the ledger's
 *   verbs, each posting with its own source id), so demo data obeys the same rules as real data.
 * - Demo records are recognisable: village codes `DEMO-nn`, card numbers `DM-nnnn`, usernames
 *   `demo-…`, ledger sources of type `demo-seed`. They never collide with real ones.
 * - Passwords and the terminal secret are random, returned once, and stored only as hashes;
 *   `writeCredentialsFile` keeps them for the local operator in a 0600 file.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { isDuplicateKeyError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import { insertBoardLink } from '../boards/board-links.service';
import { createCooperative } from '../cooperatives/cooperatives.service';
import { insertHousehold, type HouseholdView } from '../households/households.service';
import { createStore, createTerminal } from '../stores/stores.service';
import { createVillage, type VillageView } from '../villages/villages.service';
import { createRng, generateHouseholds } from './demo.names';
import { seedDemoRules } from '../rules/rules.demo';
import { seedDemoActivity } from './demo.activity';
import type { IdNumberHasher } from '../volunteers/id-number';
import { seedDemoVolunteerService } from './demo.volunteers';
import { createLogins, staffByVillage, type DemoLogin } from './demo.logins';
import { demoPostings } from './demo.postings';

export { DEMO_SOURCE_TYPE } from './demo.postings';
export type { DemoLogin } from './demo.logins';

export const DEMO_MARKER_ID = 'demo-seed';
const DEFAULT_SEED = 20240601;
const DEFAULT_HOUSEHOLDS = 100;

const COUNTY = '祁丰县';
const TOWNSHIP = '松岭镇';
const VILLAGES = [
  { name: '红星村', code: 'DEMO-01' },
  { name: '柳树湾村', code: 'DEMO-02' },
  { name: '东坡村', code: 'DEMO-03' },
] as const;
/** Two approvals and a ten-minute notice, so a demo submission posts while the visitor waits. */
const DEMO_POLICY = { quorum: 2, noticePeriod: 'PT10M' };

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
  /** The first village's station screen: open `/app/display#<secret>` on the service. */
  boardLink: { villageName: string; label: string; secret: string };
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

/**
 * Inserts the run-once marker; false when an earlier call holds it (the unique `_id` decides a
 * race between two starters), with a warning when that call never finished.
 */
async function claimMarker(seed: number, logger: Logger | undefined): Promise<boolean> {
  try {
    await meta().insertOne({ _id: DEMO_MARKER_ID, status: 'running', startedAt: new Date(), seed });
    return true;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const marker = await meta().findOne({ _id: DEMO_MARKER_ID });
    if (marker?.status === 'running') {
      logger?.warn(
        { startedAt: marker.startedAt },
        'a demo seed started earlier and has not finished (still running elsewhere, or it died half-way)',
      );
    }
    return false;
  }
}

/** The villages, and the credit cooperative and the supermarket that serve all of them. */
async function seedPlaces() {
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
  return { villages, cooperative, store };
}

/** The generated roster, in contiguous blocks per village, like the card ranges a county hands out. */
async function seedHouseholds(
  villages: readonly VillageView[],
  seed: number,
  count: number,
): Promise<HouseholdView[]> {
  const roster = generateHouseholds(seed, count);
  const households: HouseholdView[] = [];
  for (const [i, h] of roster.entries()) {
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
  return households;
}

/** Posts each household's demo history through the ledger; returns how many entries. */
async function postDemoHistory(
  households: readonly HouseholdView[],
  seed: number,
): Promise<number> {
  const rng = createRng(seed ^ 0x5eed);
  const postings = households.map((h) => demoPostings(rng, h));
  // One at a time: FerretDB's SQLite backend serialises writes, and parallel posts only add
  // contention (measured: 14 ms per post in sequence, 47 ms each with 50 in flight).
  for (const list of postings) for (const p of list) await p.verb(p.input);
  return postings.reduce((n, list) => n + list.length, 0);
}

/** What the seed made, as printed once and written to the credentials file. */
function credentialsOf(made: {
  villages: readonly VillageView[];
  households: readonly HouseholdView[];
  entries: number;
  service: DemoCredentials['volunteerService'];
  logins: DemoLogin[];
  store: { id: string; name: string };
  cooperative: { id: string; name: string };
  terminal: { clientId: string; clientSecret: string };
  boardLink: DemoCredentials['boardLink'];
}): DemoCredentials {
  const { villages, households, service, store, cooperative, terminal } = made;
  return {
    county: COUNTY,
    township: TOWNSHIP,
    villages: villages.map((v) => ({
      id: v.id,
      name: v.name,
      code: v.code,
      households: households.filter((h) => h.villageId === v.id).length,
    })),
    households: households.length,
    entries: made.entries,
    volunteerService: {
      volunteers: service.volunteers,
      teams: service.teams,
      orders: service.orders,
      menuItems: service.menuItems,
    },
    logins: made.logins,
    store: { id: store.id, name: store.name },
    cooperative: { id: cooperative.id, name: cooperative.name },
    terminal: {
      clientId: terminal.clientId,
      clientSecret: terminal.clientSecret,
      storeName: store.name,
    },
    boardLink: made.boardLink,
  };
}

/**
 * Seeds the demo county once per database. Returns the credentials the first time, and
 * undefined on every later call (the first call's credentials were printed and written then).
 */
export async function seedDemoCounty(opts: SeedDemoOptions): Promise<DemoCredentials | undefined> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const householdCount = opts.households ?? DEFAULT_HOUSEHOLDS;
  if (!(await claimMarker(seed, opts.logger))) return undefined;
  opts.logger?.info({ seed, households: householdCount }, 'seeding the demo county');

  const { villages, cooperative, store } = await seedPlaces();
  const households = await seedHouseholds(villages, seed, householdCount);
  const entries = await postDemoHistory(households, seed);
  // The county's rule catalogue (积分细则), so the council workflow has rules to file under.
  await seedDemoRules();
  const service = await seedDemoVolunteerService({
    villages,
    households,
    hasher: opts.idHasher,
    rng: createRng(seed ^ 0x70107),
  });
  const { logins, ids } = await createLogins(opts.kdfLog2N, {
    county: COUNTY,
    township: TOWNSHIP,
    villages,
    households,
    cooperativeId: cooperative.id,
    volunteerOfHousehold: service.volunteerOfHousehold,
  });
  const terminal = await createTerminal(store.id, opts.kdfLog2N);
  const screen = await insertBoardLink(villages[0]!.id, '村部大厅', 'demo-seed');
  // Goods, sales, consents and submissions in every state, so every page has something to show.
  await seedDemoActivity({
    villages,
    households,
    staff: staffByVillage(villages, ids),
    storeId: store.id,
    terminalId: terminal.id,
    cooperativeId: cooperative.id,
    policy: DEMO_POLICY,
  });

  const credentials = credentialsOf({
    villages,
    households,
    entries,
    service,
    logins,
    store,
    cooperative,
    terminal,
    boardLink: { villageName: villages[0]!.name, label: screen.label, secret: screen.secret },
  });
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
    `board screen  /app/display#${c.boardLink.secret}  (${c.boardLink.villageName} ${c.boardLink.label}: the red and black lists, no sign-in)`,
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
