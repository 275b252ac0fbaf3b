/**
 * Reading at scale, in process through the services: credit scoring (households per second, as
 * of now and as of a past date), the credit export of a cooperative's villages (rows per second,
 * peak RSS: a small and a large export show whether memory grows with rows), and chain
 * verification (entries per second, every chain in one pass) beside a raw cursor read of the
 * same collection.
 */
import { performance } from 'node:perf_hooks';
import mongoose, { Types } from 'mongoose';
import { verifyHousehold } from '../src/cli/verify-chain';
import { scoreVillages, SCORED_TYPES } from '../src/modules/credit/credit.batch';
import { runExport } from '../src/modules/credit/credit.export-run';
import { exportTuning } from '../src/modules/credit/credit.export-inputs';
import {
  scheduleRescores,
  sweepLookbackMs,
  SWEEP_REST_FACTOR,
} from '../src/modules/credit/credit.jobs';
import { createExport } from '../src/modules/credit/credit.exports';
import { signingKeysFor } from '../src/modules/credit/credit.keys';
import { settledBefore } from '../src/modules/credit/credit.inputs';
import { CURRENT_MODEL } from '../src/modules/credit/credit.score';
import { scoreAsOf } from '../src/modules/credit/credit.service';
import { findHousehold } from '../src/modules/households/households.service';
import { verifyAllChains } from '../src/modules/ledger/chain-pass';
import {
  getAccount,
  householdsWithEntries,
  streamEntries,
} from '../src/modules/ledger/ledger.service';
import { listAllVillages } from '../src/modules/villages/villages.service';
import type { BenchEnv, SectionResult } from './env';
import { dispatcherRows } from './notifications';
import type { Row, RoundTripRow } from './report';
import { perOperation } from './roundtrips';

/** Households scored per measurement (spread over the city), and at most this long. */
const SCORE_SAMPLE = 300;
/** Look-ups counted one after another for their round trips. */
const LOOKUP_COUNTED = 10;
const SCORE_TIME_MAX_MS = 30_000;
const SCORE_CONCURRENCY = 4;
const MiB = 1024 * 1024;

async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const t0 = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - t0 };
}

async function scoreMany(
  householdIds: string[],
  asOf: Date,
  settings: { gradeThresholds: readonly [number, number, number, number] },
) {
  const deadline = performance.now() + SCORE_TIME_MAX_MS;
  let next = 0;
  let done = 0;
  let firstMs: number | undefined;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: SCORE_CONCURRENCY }, async () => {
      while (next < householdIds.length && performance.now() < deadline) {
        const h = await findHousehold(householdIds[next++]!);
        if (!h) throw new Error('sampled household is missing');
        await scoreAsOf(h, asOf, CURRENT_MODEL, settings);
        firstMs ??= performance.now() - t0;
        done++;
      }
    }),
  );
  return { done, firstMs, perS: (done / (performance.now() - t0)) * 1000 };
}

/** Round trips of single look-ups (scoreAsOf), one after another, with their entries read. */
async function countLookups(
  env: BenchEnv,
  householdIds: string[],
  asOf: Date,
  how: string,
  settings: { gradeThresholds: readonly [number, number, number, number] },
): Promise<RoundTripRow> {
  const households = [];
  for (const id of householdIds.slice(0, LOOKUP_COUNTED))
    households.push((await findHousehold(id))!);
  env.counter.start();
  for (const h of households) await scoreAsOf(h, asOf, CURRENT_MODEL, settings);
  const per = perOperation(env.counter.stop(), households.length);
  let entries = 0;
  for (const h of households) entries += (await getAccount(h._id.toHexString())).entryCount;
  return {
    operation: `credit look-up: scoreAsOf, ${how} (${(entries / households.length).toFixed(1)} entries per chain)`,
    how: 'one after another',
    operations: households.length,
    perOperation: per.total,
    byCommand: per.byCommand,
  };
}

/** Every household of the city scored in one pass per asOf (credit.batch.ts). */
async function batchRows(
  env: BenchEnv,
  cases: [string, Date][],
  settings: { gradeThresholds: readonly [number, number, number, number] },
): Promise<Row[]> {
  const villageIds = (await listAllVillages()).map((v) => v._id.toHexString());
  const rows: Row[] = [];
  for (const [what, asOf] of cases) {
    env.log(`batch scoring ${what}…`);
    env.counter.start();
    const m = await withPeakRss(async () => {
      let n = 0;
      for await (const v of scoreVillages(villageIds, asOf, CURRENT_MODEL, settings)) if (v) n++;
      return n;
    });
    const trips = Object.values(env.counter.stop()).reduce((a, b) => a + b, 0);
    rows.push({
      section: 'credit scoring, in process, batch: one pass over the ledger (scoreVillages)',
      what,
      value: (m.result / m.ms) * 1000,
      unit: 'households/s',
      note: `${m.result.toLocaleString('en')} households in ${(m.ms / 1000).toFixed(1)} s; ${trips} round trips in all; RSS +${((m.peakRss - m.baseRss) / MiB).toFixed(0)} MiB`,
    });
  }
  return rows;
}

export async function benchScoring(
  env: BenchEnv,
  householdIds: string[],
  pastAsOf: Date,
): Promise<SectionResult> {
  const step = Math.max(1, Math.floor(householdIds.length / SCORE_SAMPLE));
  const sample = householdIds.filter((_, i) => i % step === 0).slice(0, SCORE_SAMPLE);
  const settings = { gradeThresholds: env.ctx.config.credit.gradeThresholds };
  const rows: Row[] = [];
  const past = `as of ${pastAsOf.toISOString().slice(0, 10)} (past)`;
  // The first pass of a month computes every village's level in one pass (credit.inputs.ts);
  // the second scores the same households again, every level memoised.
  const cases: [string, Date][] = [
    ['as of now (first pass: computes and memoises the month of every village)', settledBefore()],
    ['as of now (second pass, the same households: village levels memoised)', settledBefore()],
    [`${past}, first pass of that month`, pastAsOf],
  ];
  for (const [what, asOf] of cases) {
    env.log(`scoring ${what}…`);
    const r = await scoreMany(sample, asOf, settings);
    rows.push({
      section: 'credit scoring, in process, look-up path (scoreAsOf)',
      what,
      value: r.perS,
      unit: 'households/s',
      note: `${r.done} households, ${SCORE_CONCURRENCY} at a time${r.firstMs !== undefined ? `; the first look-up ${(r.firstMs / 1000).toFixed(1)} s` : ''}`,
    });
  }
  env.log('counting a look-up’s round trips…');
  const roundTrips = [
    await countLookups(env, sample, settledBefore(), 'as of now', settings),
    await countLookups(env, sample, pastAsOf, 'past asOf', settings),
  ];
  rows.push(
    ...(await batchRows(
      env,
      [
        ['as of now', settledBefore()],
        [past, pastAsOf],
        [
          `as of ${new Date(pastAsOf.getTime() - 40 * 86_400_000).toISOString().slice(0, 10)} (past; village levels not memoised: summed in the same pass)`,
          new Date(pastAsOf.getTime() - 40 * 86_400_000),
        ],
      ],
      settings,
    )),
  );
  rows.push(await sweepRow(env));
  rows.push(...(await dispatcherRows(env)));
  return { rows, roundTrips };
}

/**
 * One read of the workers' rescore sweep (credit.jobs.ts), which the bench's server does not run:
 * its cost grows with the ledger on FerretDB-SQLite, and the sweep rests SWEEP_REST_FACTOR times
 * as long after it. The rescores it finds are counted, not enqueued.
 */
async function sweepRow(env: BenchEnv): Promise<Row> {
  env.log('one read of the rescore sweep…');
  const everyMs = env.ctx.config.credit.scoreSweepMs;
  let found = 0;
  const queue = {
    add: () => {
      found++;
      return Promise.resolve(undefined as never);
    },
  };
  const { ms } = await timed(() =>
    scheduleRescores(queue, new Date(Date.now() - sweepLookbackMs(everyMs))),
  );
  const every = Math.max(everyMs, ms * (1 + SWEEP_REST_FACTOR));
  return {
    section: 'credit scoring, in the workers (not run by the bench server)',
    what: `the rescore sweep: one read of the entries posted in the last ${sweepLookbackMs(everyMs) / 1000} s`,
    value: ms / 1000,
    unit: 's',
    note: `${found} rescores found; with its rest (${SWEEP_REST_FACTOR} × the read) it runs every ${(every / 1000).toFixed(1)} s at this size, not every ${everyMs / 1000} s`,
  };
}

/** Samples RSS every 50 ms while `fn` runs. */
async function withPeakRss<T>(fn: () => Promise<T>) {
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  try {
    const { result, ms } = await timed(fn);
    return { result, ms, baseRss, peakRss };
  } finally {
    clearInterval(timer);
  }
}

export async function benchExport(
  env: BenchEnv,
  cooperativeId: string,
  villageIds: string[],
): Promise<SectionResult> {
  const config = env.ctx.config;
  const keys = signingKeysFor(config);
  const officer = {
    id: new Types.ObjectId().toHexString(),
    kind: 'person' as const,
    role: 'officer' as const,
    cooperativeId,
  };
  const settings = { gradeThresholds: config.credit.gradeThresholds };
  const small = villageIds.slice(0, Math.max(1, Math.floor(villageIds.length / 10)));
  const rows: Row[] = [];
  const details: Record<string, unknown>[] = [];
  // Each export as an officer gets it (its entries read the way the size chooses); the small
  // one again the other way, for the comparison the choice rests on (CHAIN_READ_COST_ENTRIES).
  const runs: { villages: string[]; way?: 'chains' | 'pass' }[] =
    small.length < villageIds.length
      ? [{ villages: small }, { villages: villageIds }]
      : [{ villages: villageIds }];
  for (let i = 0; i < runs.length; i++) {
    const { villages, way } = runs[i]!;
    const doc = await createExport(officer, { villageIds: villages });
    env.log(`export of ${villages.length} villages${way ? ` (entries by ${way})` : ''}…`);
    if (way) exportTuning.entriesRead = way;
    const m = await withPeakRss(() =>
      runExport(doc._id.toHexString(), {
        keys,
        exportDir: config.credit.exportDir,
        settings,
        log: env.ctx.logger,
      }),
    ).finally(() => delete exportTuning.entriesRead);
    const rowsOut = m.result?.rows ?? 0;
    const read = m.result?.entriesRead ?? 'pass';
    if (i === 0 && !way) runs.splice(1, 0, { villages, way: read === 'pass' ? 'chains' : 'pass' });
    if (!way)
      details.push({
        villages: villages.length,
        rows: rowsOut,
        ms: m.ms,
        entriesRead: read,
        baseRssBytes: m.baseRss,
        peakRssBytes: m.peakRss,
      });
    rows.push({
      section: 'credit export, in process (runExport)',
      what: `${villages.length} villages: ${rowsOut.toLocaleString('en')} rows (consenting households), entries ${read === 'chains' ? 'by chain' : 'in one pass'}${way ? ' (forced, for comparison)' : ''}`,
      value: (rowsOut / m.ms) * 1000,
      unit: 'rows/s',
      note: `${(m.ms / 1000).toFixed(1)} s; RSS ${(m.baseRss / MiB).toFixed(0)} → peak ${(m.peakRss / MiB).toFixed(0)} MiB (+${((m.peakRss - m.baseRss) / MiB).toFixed(0)} MiB)`,
    });
  }
  // What bounds the export: its one stream of ledger_entries (the same filter and projection).
  env.log('the export’s entry stream alone…');
  const scan = await timed(async () => {
    let n = 0;
    for await (const e of streamEntries(SCORED_TYPES, { through: settledBefore() })) if (e) n++;
    return n;
  });
  const entries = mongoose.connection.db!.collection('ledger_entries');
  const raw = await timed(async () => {
    let n = 0;
    for await (const doc of entries.find({}, { batchSize: 1000 })) if (doc) n++;
    return n;
  });
  // The least any export reads: every household of its villages, one document each.
  const householdsRaw = await timed(async () => {
    let n = 0;
    for await (const doc of mongoose.connection
      .db!.collection('households')
      .find({}, { batchSize: 1000 }))
      if (doc) n++;
    return n;
  });
  rows.push(
    {
      section: 'credit export, in process (runExport)',
      what: `bound: raw cursor read of households (${householdsRaw.result.toLocaleString('en')}), the one document per row every export reads at least`,
      value: (householdsRaw.result / householdsRaw.ms) * 1000,
      unit: 'households/s',
      note: `${(householdsRaw.ms / 1000).toFixed(1)} s; an export cannot write rows faster than this on this backend, whatever else it reads`,
    },
    {
      section: 'credit export, in process (runExport)',
      what: `bound: the export’s stream of scored entries alone (${scan.result.toLocaleString('en')} of ${raw.result.toLocaleString('en')} entries)`,
      value: (raw.result / scan.ms) * 1000,
      unit: 'entries scanned/s',
      note: `${(scan.ms / 1000).toFixed(1)} s; FerretDB-SQLite reads every entry in Go for this filter`,
    },
    {
      section: 'credit export, in process (runExport)',
      what: `raw cursor read of ledger_entries (${raw.result.toLocaleString('en')} entries)`,
      value: (raw.result / raw.ms) * 1000,
      unit: 'entries/s',
      note: `${(raw.ms / 1000).toFixed(1)} s`,
    },
  );
  if (details.length === 2) {
    const [a, b] = details as { rows: number; baseRssBytes: number; peakRssBytes: number }[];
    const growth = (d: { baseRssBytes: number; peakRssBytes: number }) =>
      (d.peakRssBytes - d.baseRssBytes) / MiB;
    rows.push({
      section: 'credit export, in process (runExport)',
      what: 'peak RSS above baseline: small export, large export',
      value: growth(b!),
      unit: 'MiB (large)',
      note: `small +${growth(a!).toFixed(0)} MiB, large +${growth(b!).toFixed(0)} MiB for ${(b!.rows / Math.max(1, a!.rows)).toFixed(1)} × the rows (flat memory: the large one grows by far less than the rows ratio)`,
    });
  }
  return { rows, roundTrips: [], details: { exports: details } };
}

/** The per-household check (the old way) is timed for at most this long, beside the pass. */
const PER_HOUSEHOLD_TIME_MAX_MS = 15_000;

/**
 * Verification as `verify-chain` does it over every chain (chain-pass.ts: households, accounts
 * and entries each read once, every chain checked in one pass), beside a raw cursor read of the
 * same collection: entries per second over all entries, the ratio, and the peak RSS above the
 * baseline. Then, for at most `timeMaxMs` (capped at 15 s), the per-household check
 * (`verifyHousehold`, by `_id`, one household at a time) for comparison; each chain's length is
 * read after its verification, outside the timed part.
 */
export async function benchVerify(env: BenchEnv, timeMaxMs: number): Promise<SectionResult> {
  const entries = mongoose.connection.db!.collection('ledger_entries');
  const rows: Row[] = [];
  const rawRead = () =>
    timed(async () => {
      let n = 0;
      for await (const doc of entries.find({}, { batchSize: 1000 })) if (doc) n++;
      return n;
    });
  // Read twice, before and after the pass, and the faster read is the limit: the first read
  // also warms the database's cache, which should not count against the pass.
  env.log('raw cursor read of ledger_entries…');
  const rawFirst = await rawRead();
  env.log('verify-chain over every chain (one pass)…');
  const pass = await withPeakRss(() => verifyAllChains({ keepGoing: true }));
  env.log('raw cursor read of ledger_entries, again…');
  const rawSecond = await rawRead();
  const raw = rawSecond.ms < rawFirst.ms ? rawSecond : rawFirst;
  const rawRate = (raw.result / raw.ms) * 1000;
  rows.push({
    section: 'chain verification',
    what: `raw cursor read of ledger_entries (${raw.result.toLocaleString('en')} entries)`,
    value: rawRate,
    unit: 'entries/s',
    note: `the faster of two reads, before and after the pass: ${(rawFirst.ms / 1000).toFixed(1)} s, ${(rawSecond.ms / 1000).toFixed(1)} s`,
  });
  const passRate = (pass.result.entriesRead / pass.ms) * 1000;
  rows.push({
    section: 'chain verification',
    what: `verify-chain, every chain in one pass: ${pass.result.verified.toLocaleString('en')} chains, ${pass.result.entriesRead.toLocaleString('en')} entries`,
    value: passRate,
    unit: 'entries/s',
    ratio: { value: passRate / rawRate, of: 'raw read' },
    note: `${(pass.ms / 1000).toFixed(1)} s (households and accounts read too); ${pass.result.problems.length} broken chains; RSS +${((pass.peakRss - pass.baseRss) / MiB).toFixed(0)} MiB`,
  });
  if (pass.result.problems.length)
    env.log(`BROKEN: ${JSON.stringify(pass.result.problems.slice(0, 5))}`);

  const perHouseholdMs = Math.min(timeMaxMs, PER_HOUSEHOLD_TIME_MAX_MS);
  env.log(`verify-chain one household at a time, at most ${perHouseholdMs / 1000} s…`);
  let chains = 0;
  let verified = 0;
  let busyMs = 0;
  for await (const householdId of householdsWithEntries()) {
    if (busyMs >= perHouseholdMs) break;
    const t0 = performance.now();
    await verifyHousehold(householdId);
    busyMs += performance.now() - t0;
    chains++;
    verified += (await getAccount(householdId)).entryCount;
  }
  const rate = (verified / busyMs) * 1000;
  rows.push({
    section: 'chain verification',
    what: `verifyHousehold, one household at a time by \`_id\` (the --household check): ${chains.toLocaleString('en')} of ${pass.result.verified.toLocaleString('en')} chains, ${verified.toLocaleString('en')} entries`,
    value: rate,
    unit: 'entries/s',
    ratio: { value: rate / rawRate, of: 'raw read' },
    note: `${(busyMs / 1000).toFixed(1)} s${chains < pass.result.verified ? ' (stopped at the time limit)' : ''}`,
  });
  return {
    rows,
    roundTrips: [],
    details: {
      rawEntries: raw.result,
      rawMs: [rawFirst.ms, rawSecond.ms],
      pass: {
        chains: pass.result.verified,
        entries: pass.result.entriesRead,
        ms: pass.ms,
        baseRssBytes: pass.baseRss,
        peakRssBytes: pass.peakRss,
        problems: pass.result.problems,
      },
      perHousehold: { chains, entriesVerified: verified, ms: busyMs },
    },
  };
}
