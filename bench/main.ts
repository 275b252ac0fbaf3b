/**
 * `npm run bench`: one run, one side-by-side table (markdown on stdout) and bench/results.json.
 *
 *   npm run bench                                  # default size: 500 households, 1 year
 *   npm run bench -- --households 10000 --years 2  # a scale point (opt-in)
 *   npm run bench -- --only posting,redemption     # some sections (the city is always generated)
 *   npm run bench -- --data-dir /tmp/city10k       # keep the database: the next run reuses it
 *   FERRETDB_HANDLER=postgresql FERRETDB_POSTGRESQL_URL=postgres://… npm run bench
 *   npm run bench -- ledger|redemption|credit-export   # the earlier single benches, unchanged
 *
 * Steps: start the database (embedded FerretDB or MONGODB_URI) and Redis; generate the city
 * through the ledger (`generate`, timed); start the API and the comparison routes in a child
 * process; then posting, redemption, scoring, export and verification; print and write.
 * Figures are from one run on a shared machine: compare ratios within a run, and note the load
 * average printed with it.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { generateCity, type GenerateProgress, type GenerateReport } from '../src/cli/generate';
import {
  planCity,
  planHousehold,
  todayUtcMidnight,
  type GenerateOptions,
} from '../src/cli/generate-plan';
import { createUser } from '../src/modules/users/users.service';
import { BENCH_KDF_LOG2N, startBenchContext, type BenchContext } from './context';
import type { BenchEnv, SectionResult, ServerHandle } from './env';
import { HttpClient, problemCode } from './http';
import { benchPosting } from './posting';
import { benchExport, benchScoring, benchVerify } from './reads';
import { benchRedemption, NEW_CARDS } from './redemption';
import {
  commandTimeTable,
  markdownTable,
  roundTripTable,
  rowsAsJson,
  type Row,
  type RoundTripRow,
} from './report';
import { RoundTripCounter, type CommandTimes } from './roundtrips';
import type { ServerCommand, ServerMessage } from './server';
import { serverLogLine } from './server-log';
import { writeLane } from '../src/platform/write-lane';

const SECTIONS = ['posting', 'redemption', 'scoring', 'export', 'verify'] as const;
type Section = (typeof SECTIONS)[number];
const LEGACY = ['ledger', 'redemption', 'credit-export'];
const DAY_MS = 86_400_000;
/** Households the spread postings go to. */
const SPREAD_HOUSEHOLDS = 256;

function parse() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      households: { type: 'string', default: '500' },
      villages: { type: 'string' },
      years: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      until: { type: 'string' },
      duration: { type: 'string', default: '8' },
      concurrency: { type: 'string', default: '32' },
      'open-terminals': { type: 'string', default: '200' },
      'open-rate': { type: 'string', default: '50' },
      'open-seconds': { type: 'string', default: '20' },
      'drain-seconds': { type: 'string', default: '30' },
      'verify-seconds': { type: 'string', default: '120' },
      'gen-concurrency': { type: 'string', default: '4' },
      'generate-minutes': { type: 'string' },
      only: { type: 'string' },
      'data-dir': { type: 'string' },
      out: { type: 'string', default: path.join(__dirname, 'results.json') },
    },
  });
  const int = (k: keyof typeof values) => {
    const n = Number(values[k]);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${k} takes a whole number`);
    return n;
  };
  const households = int('households');
  const only = values.only ? (values.only.split(',') as Section[]) : [...SECTIONS];
  for (const s of only)
    if (!SECTIONS.includes(s))
      throw new Error(`--only: no section ${s}; have ${SECTIONS.join(', ')}`);
  const until = values.until ? new Date(`${values.until}T00:00:00Z`) : todayUtcMidnight();
  return {
    positionals,
    gen: {
      households,
      villages: values.villages ? int('villages') : Math.max(2, Math.ceil(households / 250)),
      years: int('years'),
      seed: int('seed'),
      until,
    } satisfies GenerateOptions,
    durationMs: int('duration') * 1000,
    concurrency: int('concurrency'),
    open: {
      openTerminals: int('open-terminals'),
      openRatePerS: int('open-rate'),
      openDurationMs: int('open-seconds') * 1000,
      openDrainMs: int('drain-seconds') * 1000,
    },
    genConcurrency: int('gen-concurrency'),
    generateMinutes: values['generate-minutes'] !== undefined ? int('generate-minutes') : undefined,
    verifyMs: int('verify-seconds') * 1000,
    only,
    dataDir: values['data-dir'],
    out: values.out!,
  };
}

async function startServer(
  ctx: BenchContext,
): Promise<ServerHandle & { child: ChildProcess; logFile: string }> {
  // The server's own log (errors only) goes to a file of its own, named in the report.
  const logFile = path.join(os.tmpdir(), `msl-bench-server-${ctx.runId}.log`);
  const child = fork(path.join(__dirname, 'server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', openSync(logFile, 'a'), 'inherit', 'ipc'],
    env: {
      ...process.env,
      APP_MODE: 'local',
      MONGODB_URI: ctx.mongoUri,
      MONGODB_DB: ctx.config.mongodbDb,
      DB_WRITE_LANES: String(writeLane.permits),
      DATA_DIR: ctx.dataDir,
      REDIS_URL: ctx.redisUrl,
      REDIS_PREFIX: ctx.config.redisPrefix,
      PASSWORD_KDF_LOG2N: String(BENCH_KDF_LOG2N),
      LOG_LEVEL: 'info',
      DEMO_SEED: 'false',
    },
  });
  const ready = await new Promise<Extract<ServerMessage, { type: 'ready' }>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    child.on('message', (m: ServerMessage) => {
      if (m.type === 'ready') resolve(m);
    });
  });
  const send = (c: ServerCommand) => child.send(c);
  let times: CommandTimes = {};
  return {
    child,
    logFile,
    pid: child.pid!,
    apiOrigin: `http://127.0.0.1:${ready.apiPort}`,
    plainOrigin: `http://127.0.0.1:${ready.plainPort}`,
    countStart: () => send({ type: 'count', on: true }),
    countStop: () =>
      new Promise((resolve) => {
        const on = (m: ServerMessage) => {
          if (m.type !== 'counts') return;
          child.off('message', on);
          times = m.times;
          resolve(m.counts);
        };
        child.on('message', on);
        send({ type: 'count', on: false });
      }),
    lastTimes: () => times,
  };
}

function gitCommit(): { commit: string; dirty: boolean } {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: __dirname, encoding: 'utf8' });
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], {
    cwd: __dirname,
    encoding: 'utf8',
  });
  return { commit: head.stdout.trim() || 'unknown', dirty: status.stdout.trim() !== '' };
}

function generatorRows(gen: GenerateOptions, r: GenerateReport): Row[] {
  const section = 'generate (npm run cli -- generate), through postEntry';
  const rows: Row[] = [
    {
      section,
      what: `${gen.villages} villages, ${gen.households.toLocaleString('en')} households, ${gen.years} year(s): ${r.entries.toLocaleString('en')} entries, ${r.consents.toLocaleString('en')} consents`,
      value: r.elapsedMs / 1000,
      unit: 's',
      note: r.householdsCreated
        ? `${r.entriesPosted.toLocaleString('en')} entries posted this run`
        : 'already generated (kept data dir): nothing added',
    },
  ];
  if (r.villagesWritten < r.villages)
    rows.push({
      section,
      what: `written when --generate-minutes ran out: ${r.villagesWritten} of ${r.villages} villages`,
      value: r.householdsWritten,
      unit: 'households',
      note: 'the sections below use these villages; a later run with the same --data-dir resumes the city',
    });
  if (r.householdsCreated) {
    rows.push({
      section,
      what: 'entries posted per second',
      value: (r.entriesPosted / r.elapsedMs) * 1000,
      unit: 'entries/s',
    });
    rows.push({
      section,
      what: 'time per 10,000 households',
      value: r.msPer10kHouseholds! / 60_000,
      unit: 'min',
      note: `at ${(r.entriesPosted / Math.max(1, r.householdsCreated)).toFixed(1)} entries per household`,
    });
    const perHour = (3_600_000 / r.elapsedMs) * r.householdsCreated;
    rows.push({
      section,
      what: 'households one hour gives at this rate',
      value: perHour,
      unit: 'households/h',
      note: `1,000,000 households ≈ ${(1_000_000 / perHour).toFixed(0)} h (if the cost per posting stayed flat)`,
    });
  }
  return rows;
}

/**
 * Whether the cost per posting grows with the data: entries per second while the first village
 * was written (few households and entries in the database) and while the last one was.
 */
function growthRows(progress: GenerateProgress[]): Row[] {
  const steps = progress.map((p, i) => {
    const prev = progress[i - 1] ?? { households: 0, entriesPosted: 0, elapsedMs: 0 };
    return {
      from: prev.households,
      to: p.households,
      entries: p.entriesPosted - prev.entriesPosted,
      ms: p.elapsedMs - prev.elapsedMs,
    };
  });
  const written = steps.filter((s) => s.entries > 0);
  if (written.length < 2) return [];
  const section = 'generate (npm run cli -- generate), through postEntry';
  const [first, last] = [written[0]!, written[written.length - 1]!];
  const rate = (s: (typeof written)[number]) => (s.entries / s.ms) * 1000;
  return [
    {
      section,
      what: `entries/s while writing households ${first.from + 1}–${first.to} (first village)`,
      value: rate(first),
      unit: 'entries/s',
    },
    {
      section,
      what: `entries/s while writing households ${last.from + 1}–${last.to} (last village)`,
      value: rate(last),
      unit: 'entries/s',
      ratio: { value: rate(last) / rate(first), of: 'first village' },
      note: 'below 1: each posting costs more as the city grows',
    },
  ];
}

/** The round-trip totals the core work targets, as rows of the main table. */
function roundTripRows(rts: RoundTripRow[]): Row[] {
  const targets: [string, string, number][] = [
    ['posting: ours: POST /v1/households/:id/adjustments', 'per HTTP posting', 3],
    ['posting: ours: postEntry', 'per postEntry', 3],
    ['redemption: POST /v1/redemptions', 'per HTTP redemption', 6],
  ];
  const rows: Row[] = [];
  for (const [operation, what, target] of targets) {
    for (const how of ['one after another', 'one after another, warm', NEW_CARDS]) {
      const r = rts.find((x) => x.operation === operation && x.how === how);
      const warm = `${operation.startsWith('posting') ? 'second posting to the household' : 'the same counter and card again'} in this process`;
      if (r)
        rows.push({
          section: 'database round trips (one operation after another)',
          what:
            how === 'one after another'
              ? what
              : how === NEW_CARDS
                ? `${what}, a new card each time (the store warm; as at a market-day counter)`
                : `${what}, warm (${warm})`,
          value: r.perOperation,
          unit: 'round trips',
          note: `target ≤ ${target}; by collection below${r.waits === undefined ? '' : `; ${r.waits.toFixed(1)} of them one after another (the rest sent beside another)`}`,
        });
    }
  }
  return rows;
}

async function runLegacy(names: string[]): Promise<void> {
  const { benches } = await import('./legacy/registry');
  const { startContext, stopContext } = await import('../test/support/context');
  const selected = benches.filter((b) => names.includes(b.name));
  const ctx = await startContext();
  const lines = [
    `# Bench report ${new Date().toISOString()}`,
    `node ${process.version}, database ${process.env.MONGODB_URI ? 'MONGODB_URI' : `embedded FerretDB (${ctx.config.ferretdb.handler})`}`,
    '',
  ];
  try {
    for (const b of selected) {
      process.stderr.write(`running ${b.name}…\n`);
      lines.push(`## ${b.name}`, ...(await b.run()), '');
    }
  } finally {
    await stopContext();
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const o = parse();
  if (o.positionals.length) {
    const unknown = o.positionals.filter((n) => !LEGACY.includes(n));
    if (unknown.length)
      throw new Error(
        `no bench named ${unknown.join(', ')}; have: ${LEGACY.join(', ')} (or no name: the whole table)`,
      );
    return runLegacy(o.positionals);
  }
  const started = new Date();
  const load: { at: string; loadavg: number[] }[] = [];
  const sampleLoad = (at: string) =>
    load.push({ at, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) });
  const log = (line: string) =>
    process.stderr.write(
      `[${((Date.now() - started.getTime()) / 1000).toFixed(0)} s, load ${os.loadavg()[0]!.toFixed(1)}] ${line}\n`,
    );
  sampleLoad('start');
  const ctx = await startBenchContext(o.dataDir !== undefined ? { dataDir: o.dataDir } : {});
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  const rows: Row[] = [];
  const roundTrips: RoundTripRow[] = [];
  const details: Record<string, unknown> = {};
  try {
    log(
      `generating ${o.gen.households} households in ${o.gen.villages} villages, ${o.gen.years} year(s), seed ${o.gen.seed}…`,
    );
    let lastLogMs = -Infinity;
    const progress: GenerateProgress[] = [];
    const gen = await generateCity(o.gen, {
      concurrency: o.genConcurrency,
      ...(o.generateMinutes !== undefined
        ? { deadline: started.getTime() + o.generateMinutes * 60_000 }
        : {}),
      onProgress: (p) => {
        progress.push(p);
        if (p.households < p.householdsTotal && p.elapsedMs - lastLogMs < 10_000) return;
        lastLogMs = p.elapsedMs;
        log(`… ${p.households}/${p.householdsTotal} households, ${p.entriesPosted} entries posted`);
      },
    });
    rows.push(...generatorRows(o.gen, gen), ...growthRows(progress));
    sampleLoad('generated');
    // The villages written (all, unless --generate-minutes stopped the generation early).
    const city = planCity(o.gen);
    city.villages.splice(gen.villagesWritten);
    const householdIds = city.villages.flatMap((v) =>
      Array.from({ length: v.households }, (_, i) => planHousehold(o.gen, v, i).id),
    );
    const county0 = city.villages
      .slice(city.counties[0]!.villages[0], city.counties[0]!.villages[1])
      .map((v) => gen.villageIds.get(v.code)!);

    server = await startServer(ctx);
    const env: BenchEnv = {
      ctx,
      server,
      counter: new RoundTripCounter(mongoose.connection.getClient()),
      concurrency: o.concurrency,
      durationMs: o.durationMs,
      log,
    };
    const add = (name: string, r: SectionResult) => {
      rows.push(...r.rows);
      roundTrips.push(...r.roundTrips);
      if (r.details) details[name] = r.details;
      sampleLoad(name);
    };

    if (o.only.includes('posting')) {
      const password = `bench-${ctx.runId}`;
      const admin = await createUser(
        undefined,
        { username: `bench-admin-${ctx.runId}`, password, role: 'admin' },
        BENCH_KDF_LOG2N,
      );
      const client = new HttpClient(server.apiOrigin, 1);
      const signIn = await client.post('/v1/auth/token', {
        grantType: 'password',
        username: admin.username,
        password,
      });
      await client.close();
      if (signIn.status !== 200) throw new Error(`admin sign-in failed: ${problemCode(signIn)}`);
      const step = Math.max(1, Math.floor(householdIds.length / SPREAD_HOUSEHOLDS));
      add(
        'posting',
        await benchPosting(env, {
          adminAuth: {
            authorization: `Bearer ${(signIn.body as { accessToken: string }).accessToken}`,
          },
          spread: householdIds.filter((_, i) => i % step === 0).slice(0, SPREAD_HOUSEHOLDS),
          one: householdIds[householdIds.length - 1]!,
        }),
      );
    }
    if (o.only.includes('redemption'))
      add('redemption', await benchRedemption(env, county0, o.open));
    if (o.only.includes('scoring'))
      add(
        'scoring',
        await benchScoring(
          env,
          householdIds,
          new Date(o.gen.until.getTime() - (o.gen.years > 1 ? 365 : 180) * DAY_MS),
        ),
      );
    if (o.only.includes('export')) {
      await new Promise((r) => setTimeout(r, 2100)); // the export's asOf must be settled
      add('export', await benchExport(env, gen.cooperativeIds[0]!, county0));
    }
    if (o.only.includes('verify')) add('verify', await benchVerify(env, o.verifyMs));
  } finally {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      const exited = new Promise((r) => server!.child.once('exit', r));
      server.child.kill('SIGTERM');
      await exited;
    }
    await ctx.stop();
  }

  const git = gitCommit();
  const machine = {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    platform: `${os.platform()} ${os.release()}`,
  };
  const meta = {
    date: started.toISOString(),
    finishedAt: new Date().toISOString(),
    git,
    node: process.version,
    backend: ctx.backend,
    machine,
    loadAverage: load,
    options: {
      ...o.gen,
      until: o.gen.until.toISOString().slice(0, 10),
      durationS: o.durationMs / 1000,
      concurrency: o.concurrency,
      ...o.open,
      genConcurrency: o.genConcurrency,
      only: o.only,
    },
  };
  rows.push(...roundTripRows(roundTrips));
  const loadLine = load.map((l) => `${l.at} ${l.loadavg.join('/')}`).join(', ');
  const lines = [
    `# npm run bench — ${meta.date}`,
    '',
    `${ctx.backend}; node ${process.version}; ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB; commit ${git.commit.slice(0, 12)}${git.dirty ? ' (with local changes)' : ''}.`,
    `${o.gen.households.toLocaleString('en')} households in ${o.gen.villages} villages, ${o.gen.years} year(s), seed ${o.gen.seed}; closed loops ${o.durationMs / 1000} s each after 1 s warm-up, concurrency ${o.concurrency}.`,
    `Load average (1/5/15 min) — ${loadLine}. The machine is shared: compare ratios within this run.`,
    ...(server ? [await serverLogLine(server.logFile)] : []),
    '',
    ...markdownTable(rows),
    '',
    '## Database round trips per operation (driver command monitoring)',
    '',
    ...roundTripTable(roundTrips),
    '',
    '## Database command times in the concurrent runs (driver command monitoring)',
    '',
    "From a command's send to its reply, as the driver measures it; a write's wait in the write",
    'lane comes before the send and is not in these times.',
    '',
    ...commandTimeTable(roundTrips),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  writeFileSync(
    o.out,
    `${JSON.stringify({ meta, rows: rowsAsJson(rows), roundTrips, details }, null, 2)}\n`,
  );
  process.stderr.write(`results written to ${o.out}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
