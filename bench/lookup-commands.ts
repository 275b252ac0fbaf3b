/**
 * The database commands behind one officer look-up (GET /v1/credit/households/:id), counted
 * with the driver's command monitoring (roundtrips.ts) on a fresh embedded database:
 *
 *   npx tsx bench/lookup-commands.ts [--consents N]
 *
 * Sets up a village, a cooperative, an officer and households (one with a consent, one without),
 * plus N other consents to the cooperative so that a filter the database answers by scanning
 * `credit_consents` shows up as such. Each look-up goes over HTTP through `createApp` in this
 * process (sign-in, consent, score, inquiry). Prints every command with its filter's keys, so a
 * filter other than a lone `_id` equality (which FerretDB-SQLite answers with a full scan) is
 * visible, and the count per look-up after a warm-up look-up (in-process caches filled); then
 * the median time of a warm look-up, one after another.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import mongoose, { Types } from 'mongoose';
import request from 'supertest';
import { createApp } from '../src/app';
import { createTokenService } from '../src/platform/auth';
import { Queues } from '../src/platform/queues';
import { createCooperative } from '../src/modules/cooperatives/cooperatives.service';
import { Consent, CONSENT_FIELDS } from '../src/modules/credit/credit.model';
import { insertHousehold } from '../src/modules/households/households.service';
import { createUser } from '../src/modules/users/users.service';
import { createVillage } from '../src/modules/villages/villages.service';
import { startBenchContext } from './context';

/** Warm look-ups timed one after another, per household. */
const TIMED_LOOKUPS = 20;

interface Started {
  commandName: string;
  command: Record<string, unknown>;
}

/** `collection command {filter keys}` of a command, e.g. `credit_consents find {householdId,cooperativeId}`. */
function describe(e: Started): string {
  const target =
    e.commandName === 'getMore' ? e.command.collection : (e.command[e.commandName] ?? '(database)');
  let filter: unknown;
  if (e.commandName === 'find') filter = e.command.filter;
  else if (e.commandName === 'update')
    filter = (e.command.updates as { q: unknown }[] | undefined)?.[0]?.q;
  else if (e.commandName === 'delete')
    filter = (e.command.deletes as { q: unknown }[] | undefined)?.[0]?.q;
  else if (e.commandName === 'findAndModify') filter = e.command.query;
  const keys = filter && typeof filter === 'object' ? `{${Object.keys(filter).join(',')}}` : '';
  return `${String(target)} ${e.commandName} ${keys}`.trim();
}

async function main() {
  const { values } = parseArgs({ options: { consents: { type: 'string', default: '2000' } } });
  const others = Number(values.consents);
  const ctx = await startBenchContext({});
  const client = mongoose.connection.getClient();
  let log: string[] | undefined;
  client.on('commandStarted', (e: Started) => log?.push(describe(e)));
  const queues = new Queues(ctx.redisUrl, ctx.config.redisPrefix);
  try {
    const tokens = createTokenService({
      issuer: ctx.config.jwt.issuer,
      audience: ctx.config.jwt.audience,
      ttlS: ctx.config.jwt.accessTokenTtlS,
      keyDir: path.join(ctx.dataDir, 'keys'),
    });
    const app = createApp({
      config: ctx.config,
      logger: ctx.logger,
      redis: ctx.redis,
      tokens,
      queues,
    });
    const village = await createVillage({
      name: '测试村',
      code: 'V1',
      township: '测试镇',
      county: '测试县',
      policy: { quorum: 1, noticePeriod: 'PT0S' },
    });
    const coop = await createCooperative({ name: '农村信用合作社', villageIds: [village.id] });
    const user = async (role: 'officer' | 'household', scope: Record<string, string>) => {
      const u = await createUser(
        undefined,
        {
          username: `${role}${new Types.ObjectId().toHexString()}`,
          password: 'pw-123456789',
          role,
          ...scope,
        },
        ctx.config.passwordKdfLog2N,
      );
      return { Authorization: `Bearer ${tokens.sign({ sub: u.id, role }, 'person')}` };
    };
    const officer = await user('officer', { cooperativeId: coop.id });
    const household = async (n: number) =>
      insertHousehold({ villageId: village.id, head: '张三', members: [], cardNo: `C${n}` });
    const consenting = await household(1);
    const refusing = await household(2);
    const given = await request(app)
      .post('/v1/consents')
      .set(await user('household', { householdId: consenting.id }))
      .send({
        householdId: consenting.id,
        cooperativeId: coop.id,
        expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      });
    if (given.status !== 201)
      throw new Error(`consent: ${given.status} ${JSON.stringify(given.body)}`);
    // Other households' consents to the same cooperative: what a scan of the collection reads.
    const now = new Date();
    const docs = Array.from({ length: others }, () => ({
      householdId: new Types.ObjectId().toHexString(),
      villageId: village.id,
      cooperativeId: coop.id,
      recipient: coop.name,
      purpose: '农户信用评级及授信参考',
      fields: [...CONSENT_FIELDS],
      grantedAt: now,
      expiresAt: new Date(now.getTime() + 86_400_000),
      method: 'household',
      recordedBy: 'bench',
    }));
    if (docs.length) await Consent.collection.insertMany(docs);
    await new Promise((r) => setTimeout(r, 2100)); // the default asOf lies a settle margin back

    const lookUp = async (householdId: string, label: string, print: boolean) => {
      log = [];
      const res = await request(app)
        .get(`/v1/credit/households/${householdId}`)
        .query({ purpose: '贷款审批' })
        .set(officer);
      const sent = log;
      log = undefined;
      if (!print) return;
      console.log(`\n${label}: HTTP ${res.status}, ${sent.length} database commands`);
      const counts = new Map<string, number>();
      for (const s of sent) counts.set(s, (counts.get(s) ?? 0) + 1);
      for (const [s, n] of counts) console.log(`  ${n} × ${s}`);
    };
    console.log(`${others} other consents to the cooperative in credit_consents`);
    await lookUp(consenting.id, 'first look-up (cold caches)', true);
    await lookUp(consenting.id, 'consenting household, again (warm)', true);
    await lookUp(refusing.id, 'first look-up of a household without consent', true);
    await lookUp(refusing.id, 'household without consent, again (warm)', true);
    // Time, one after another (a figure for this run and machine only, not an assertion).
    for (const [id, what] of [
      [consenting.id, 'consenting'],
      [refusing.id, 'without consent'],
    ] as const) {
      const ms: number[] = [];
      for (let i = 0; i < TIMED_LOOKUPS; i++) {
        const t0 = performance.now();
        await lookUp(id, what, false);
        ms.push(performance.now() - t0);
      }
      ms.sort((a, b) => a - b);
      console.log(
        `${what}: median ${ms[ms.length >> 1]!.toFixed(1)} ms per look-up over ${TIMED_LOOKUPS} in a row`,
      );
    }
  } finally {
    await queues.close();
    await ctx.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
