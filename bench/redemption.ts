/**
 * Redemption over HTTP (POST /v1/redemptions), two ways:
 * - closed loop: 32 terminals back to back, each with its own card and credentials: the rate
 *   the service can carry;
 * - open loop: 200 terminals and a fixed total arrival rate (50 redemptions/s, a market day
 *   where each cashier serves a customer every four seconds), latency from the scheduled arrival.
 *
 * Stores have four counters each and ten items; a basket is one to three items, one or two of
 * each. Cards are households of the generated villages, funded with one large adjustment so
 * that no basket is refused for points.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createRng, between, type Rng } from '../src/modules/demo/demo.names';
import { insertHousehold } from '../src/modules/households/households.service';
import { postEntry } from '../src/modules/ledger/ledger.service';
import { createItem } from '../src/modules/stores/items.service';
import { createStore, createTerminal } from '../src/modules/stores/stores.service';
import { BENCH_KDF_LOG2N } from './context';
import { cpuMeter, cpuNote } from './cpu';
import { cpuProcesses, type BenchEnv, type SectionResult } from './env';
import { HttpClient, problemCode } from './http';
import { closedLoop, openLoop, percentile, type Operation } from './load';
import type { Row, RoundTripRow } from './report';
import { perOperation } from './roundtrips';

const TERMINALS_PER_STORE = 4;
const SEQUENTIAL_OPS = 20;
/** The sequential run where every redemption brings a card the server has not seen. */
export const NEW_CARDS = 'one after another, a new card each time';
const FUNDING_POINTS = 10_000_000;
const ITEMS = [
  { sku: 'RICE-5', name: '大米5斤', points: 25 },
  { sku: 'OIL-1', name: '食用油1桶', points: 40 },
  { sku: 'SOAP', name: '香皂', points: 5 },
  { sku: 'DETERGENT', name: '洗衣粉1袋', points: 10 },
  { sku: 'TOWEL', name: '毛巾', points: 8 },
  { sku: 'SOY', name: '酱油', points: 6 },
  { sku: 'VINEGAR', name: '陈醋', points: 6 },
  { sku: 'NOTEBOOK', name: '作业本', points: 3 },
  { sku: 'PENCIL', name: '铅笔盒', points: 12 },
  { sku: 'TOOTHPASTE', name: '牙膏', points: 7 },
];

export interface RedemptionOptions {
  openTerminals: number;
  openRatePerS: number;
  openDurationMs: number;
  openDrainMs: number;
}

interface Counter {
  cardNo: string;
  auth: Record<string, string>;
}

function basket(rng: Rng) {
  const skus = new Set<string>();
  for (let n = between(rng, 1, 3); skus.size < n;)
    skus.add(ITEMS[Math.floor(rng() * ITEMS.length)]!.sku);
  return [...skus].map((sku) => ({ sku, qty: between(rng, 1, 2) }));
}

/** Stores, items, terminals (signed in over HTTP) and a funded card per terminal. */
async function setUpCounters(
  env: BenchEnv,
  villageIds: string[],
  terminals: number,
): Promise<Counter[]> {
  const api = new HttpClient(env.server.apiOrigin, 8);
  const tag = env.ctx.runId.toUpperCase();
  const counters: Counter[] = [];
  for (let s = 0; s * TERMINALS_PER_STORE < terminals; s++) {
    const villageId = villageIds[s % villageIds.length]!;
    const store = await createStore({ name: `基准测试公益超市${s + 1}`, villageIds: [villageId] });
    for (const item of ITEMS) await createItem(store.id, { ...item, stock: 1_000_000 });
    for (let t = 0; t < TERMINALS_PER_STORE && counters.length < terminals; t++) {
      const term = await createTerminal(store.id, BENCH_KDF_LOG2N);
      const signIn = await api.post('/v1/auth/token', {
        grantType: 'client_credentials',
        clientId: term.clientId,
        clientSecret: term.clientSecret,
      });
      if (signIn.status !== 200) throw new Error(`terminal sign-in failed: ${problemCode(signIn)}`);
      counters.push({
        cardNo: await fundedCard(villageId, `B${tag}-${counters.length + 1}`),
        auth: { authorization: `Bearer ${(signIn.body as { accessToken: string }).accessToken}` },
      });
    }
  }
  await api.close();
  return counters;
}

/**
 * A household of the village with a card and points enough for any basket, written by the bench
 * process (so the server has not seen it). Returns the card number.
 */
async function fundedCard(villageId: string, cardNo: string): Promise<string> {
  const h = await insertHousehold({ villageId, head: '基准户', members: [], cardNo });
  await postEntry({
    householdId: h.id,
    type: 'adjustment',
    points: FUNDING_POINTS,
    spendableDelta: FUNDING_POINTS,
    meritDelta: FUNDING_POINTS,
    shortfall: 'clamp',
    source: { type: 'bench', id: `fund-${h.id}` },
    reason: '基准测试充值',
  });
  return h.cardNo;
}

export async function benchRedemption(
  env: BenchEnv,
  villageIds: string[],
  o: RedemptionOptions,
): Promise<SectionResult> {
  const t0 = Date.now();
  const counters = await setUpCounters(env, villageIds, Math.max(env.concurrency, o.openTerminals));
  // Cards the first counter's store serves, each redeemed once below: a market-day counter, where
  // every customer brings a card the server has not seen today.
  const newCards: string[] = [];
  for (let i = 0; i < SEQUENTIAL_OPS; i++)
    newCards.push(await fundedCard(villageIds[0]!, `N${env.ctx.runId.toUpperCase()}-${i + 1}`));
  env.log(
    `redemption: ${counters.length} terminals and cards set up in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  const rngs = counters.map((_, i) => createRng(i + 1));
  const redeemWith =
    (api: HttpClient, cardOf?: (i: number) => string): Operation =>
    async (w, i) => {
      const c = counters[w]!;
      const a = await api.post(
        '/v1/redemptions',
        { cardNo: cardOf?.(i) ?? c.cardNo, items: basket(rngs[w]!) },
        { ...c.auth, 'idempotency-key': `bench-${randomBytes(8).toString('hex')}` },
      );
      return a.status === 201 ? undefined : problemCode(a);
    };
  const rows: Row[] = [];
  const roundTrips: RoundTripRow[] = [];

  const one = new HttpClient(env.server.apiOrigin, 1);
  // Three times at one counter: first cold (the server has not seen the store's items, the card
  // or the chains' heads), then warm (the same counter and card again: the hot path), then with
  // a new card each time (the store warm, each card and its chains not yet seen).
  const ways: [string, ((i: number) => string) | undefined][] = [
    ['one after another', undefined],
    ['one after another, warm', undefined],
    [NEW_CARDS, (i) => newCards[i]!],
  ];
  for (const [how, cardOf] of ways) {
    env.server.countStart();
    const took: number[] = [];
    for (let i = 0; i < SEQUENTIAL_OPS; i++) {
      const t = performance.now();
      const problem = await redeemWith(one, cardOf)(0, i);
      took.push(performance.now() - t);
      if (problem) throw new Error(`redemption failed: ${problem}`);
    }
    const seq = perOperation(await env.server.countStop(), SEQUENTIAL_OPS);
    took.sort((a, b) => a - b);
    rows.push({
      section: 'redemption, HTTP',
      what: `${how}: ${SEQUENTIAL_OPS} redemptions at one counter`,
      value: took.reduce((a, b) => a + b, 0) / took.length,
      unit: 'ms each (mean)',
      p50Ms: percentile(took, 50),
      p95Ms: percentile(took, 95),
      p99Ms: percentile(took, 99),
      note: 'one client, nothing else running: the latency of the path itself',
    });
    roundTrips.push({
      operation: 'redemption: POST /v1/redemptions',
      how,
      operations: SEQUENTIAL_OPS,
      perOperation: seq.total,
      waits: seq.waits,
      byCommand: seq.byCommand,
    });
  }
  await one.close();

  env.log(`redemption: closed loop, ${env.concurrency} terminals…`);
  const closedApi = new HttpClient(env.server.apiOrigin, env.concurrency);
  let attempts = 0;
  const closedOp = redeemWith(closedApi);
  env.server.countStart();
  const cpu = cpuMeter(cpuProcesses(env));
  const closed = await closedLoop(env.concurrency, env.durationMs, (w, i) => {
    attempts++;
    return closedOp(w, i);
  });
  const cpuPer = cpu.stop(attempts);
  const conc = perOperation(await env.server.countStop(), attempts);
  roundTrips.push({
    operation: 'redemption: POST /v1/redemptions',
    how: `concurrency ${env.concurrency}`,
    operations: attempts,
    perOperation: conc.total,
    byCommand: conc.byCommand,
    times: env.server.lastTimes(),
  });
  await closedApi.close();
  rows.push({
    section: 'redemption, HTTP',
    what: `closed loop: ${env.concurrency} terminals back to back, each its own card`,
    value: closed.ratePerS,
    unit: 'redemptions/s',
    p50Ms: closed.p50Ms,
    p95Ms: closed.p95Ms,
    p99Ms: closed.p99Ms,
    ...(closed.failed
      ? { note: `${closed.failed} failed: ${JSON.stringify(closed.failures)}` }
      : {}),
  });
  if (cpuPer['API server'] !== undefined) {
    const others = Object.fromEntries(
      Object.entries(cpuPer).filter(([name]) => name !== 'API server'),
    );
    rows.push({
      section: 'redemption, HTTP',
      what: 'closed loop: CPU per redemption, API server (all processes in the note)',
      value: cpuPer['API server'],
      unit: 'ms CPU',
      note: cpuNote(others, 'redemption'),
    });
  }

  env.log(
    `redemption: open loop, ${o.openTerminals} terminals at ${o.openRatePerS}/s for ${o.openDurationMs / 1000} s…`,
  );
  const openApi = new HttpClient(env.server.apiOrigin, o.openTerminals);
  env.server.countStart();
  const open = await openLoop(
    o.openTerminals,
    o.openRatePerS,
    o.openDurationMs,
    o.openDrainMs,
    redeemWith(openApi),
  );
  const openCounts = perOperation(await env.server.countStop(), open.scheduled);
  roundTrips.push({
    operation: 'redemption: POST /v1/redemptions',
    how: `open loop, ${o.openTerminals} terminals at ${o.openRatePerS}/s`,
    operations: open.scheduled,
    perOperation: openCounts.total,
    byCommand: openCounts.byCommand,
    times: env.server.lastTimes(),
  });
  await openApi.close();
  const notes = [`${open.ok}/${open.scheduled} answered`];
  if (open.unfinished)
    notes.push(
      `${open.unfinished} still queued ${o.openDrainMs / 1000} s after the last arrival (latency ≥ shown)`,
    );
  if (open.failed) notes.push(`${open.failed} failed: ${JSON.stringify(open.failures)}`);
  rows.push({
    section: 'redemption, HTTP',
    what: `open loop: ${o.openTerminals} terminals, ${o.openRatePerS} arrivals/s on a fixed timetable; latency from the scheduled arrival`,
    value: open.ratePerS,
    unit: 'redemptions/s answered',
    p50Ms: open.p50Ms,
    p95Ms: open.p95Ms,
    p99Ms: open.p99Ms,
    lowerBound: { p50: open.p50Censored, p95: open.p95Censored, p99: open.p99Censored },
    note: notes.join('; '),
  });
  // Where the open loop's tail comes from: the first arrival at each terminal brings a terminal,
  // a store, its items' stock chains and a card the server has not seen, all within the first
  // seconds; every later arrival is the steady market day. Same arrivals as the row above.
  const phases = [
    [
      'each terminal’s first redemption (terminal, store, items and card all new to the server)',
      open.phases.first,
    ],
    ['every later redemption (the steady market day)', open.phases.later],
  ] as const;
  for (const [what, ph] of phases) {
    rows.push({
      section: 'redemption, HTTP',
      what: `open loop, ${what}`,
      value: ph.answered,
      unit: 'answered',
      p50Ms: ph.p50Ms,
      p95Ms: ph.p95Ms,
      p99Ms: ph.p99Ms,
      note: `max ${Math.round(ph.maxMs)} ms; the open loop's arrivals split in two`,
    });
  }
  return { rows, roundTrips, details: { closed, open } };
}
