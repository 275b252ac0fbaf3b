/**
 * The CLI's command table and argument handling. `runCli(argv, deps)` returns the exit code and
 * prints through `deps`, so tests run commands in-process as well as in a real process.
 *
 * Exit codes: 0 success; 1 the command ran and found a problem (bad rows, a broken chain, a
 * taken username); 2 usage error (unknown command or option, missing argument).
 *
 * To add a command, add one entry to COMMANDS: its name, usage line, summary, parseArgs
 * options, and a `run` that gets the parsed arguments (the database is already connected
 * when `database` is true).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../../config';
import { DomainError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import { findHousehold } from '../modules/households/households.service';
import { formatCredentials, seedDemoCounty } from '../modules/demo/demo.seed';
import { listEntries } from '../modules/ledger/ledger.service';
import type { Db } from 'mongodb';
import mongoose from 'mongoose';
import { BackupError, backupDatabase, restoreDatabase } from './backup';
import { migrateVillageLevels } from '../modules/villages/villages.service';
import { idNumberHasherFor } from '../modules/volunteers/id-number';
import { createAdmin } from './create-admin';
import { GENERATE_CONCURRENCY_DEFAULT, generateCity } from './generate';
import { todayUtcMidnight } from './generate-plan';
import { importHouseholdsCommand } from './import-households';
import { verifyChains } from './verify-chain';
import { VerifyInputError, verifyExportFiles } from './verify-export';

export interface CliIo {
  /** Results, one line per call (stdout). */
  out(line: string): void;
  /** Progress and diagnostics (stderr). */
  err(line: string): void;
  /** Reads a secret from the terminal without echo; undefined when stdin is not a terminal. */
  promptSecret?(question: string): Promise<string | undefined>;
  /** Reads all of stdin (for --password-stdin). */
  readStdin?(): Promise<string>;
}

export interface CliDeps {
  config: Config;
  logger: Logger;
  io: CliIo;
  /** Connects to the database for commands that need it; returns how to close it. */
  connect(): Promise<{ source: string; close(): Promise<void> }>;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] };

interface Command {
  usage: string;
  summary: string;
  options: Options;
  /** Number of positional arguments: [min, max]. */
  positionals: [number, number];
  database: boolean;
  run(args: Parsed, deps: CliDeps): number | Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;

class UsageError extends Error {}

const COMMANDS: Record<string, Command> = {
  'create-admin': {
    usage: 'create-admin [--username NAME] [--password PW | --password-stdin]',
    summary:
      'Create a county-office admin. Password: --password, --password-stdin, ADMIN_PASSWORD (with ADMIN_USERNAME), a prompt on a terminal, else generated and printed once.',
    options: {
      username: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
    positionals: [0, 0],
    database: true,
    run: runCreateAdmin,
  },
  'import-households': {
    usage: 'import-households FILE.csv [--village CODE] [--dry-run] [--verbose]',
    summary:
      'Import a UTF-8 CSV roster with the headers 户主,家庭成员,卡号,村. Bad rows are listed with their line; re-importing creates nothing new.',
    options: {
      village: { type: 'string' },
      'dry-run': { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
    positionals: [1, 1],
    database: true,
    run: runImportHouseholds,
  },
  'verify-chain': {
    usage: 'verify-chain [--household ID] [--keep-going] [--parallel N]',
    summary:
      'Verify the hash chain of one household or of all; exit 1 naming the first broken household and seq.',
    options: {
      household: { type: 'string' },
      'keep-going': { type: 'boolean' },
      parallel: { type: 'string' },
    },
    positionals: [0, 0],
    database: true,
    run: runVerifyChain,
  },
  'seed-demo': {
    usage: 'seed-demo [--seed N] [--households N]',
    summary:
      'Seed the demo county once per database (npm start does this in local mode); prints the credentials and writes DATA_DIR/demo-credentials.txt.',
    options: { seed: { type: 'string' }, households: { type: 'string' } },
    positionals: [0, 0],
    database: true,
    run: runSeedDemo,
  },
  backup: {
    usage: 'backup DIR',
    summary:
      'Back up every collection into the new folder DIR: one gzip file of canonical Extended JSON per collection and manifest.json (counts, SHA-256, indexes). Streams; for one consistent instant stop the API and workers first.',
    options: {},
    positionals: [1, 1],
    database: true,
    run: runBackup,
  },
  restore: {
    usage: 'restore DIR [--parallel N]',
    summary:
      'Restore a backup into an empty database (MONGODB_DB): checks every file against the manifest first, recreates the indexes, loads every collection, then verifies every chain. Exit 1 when the database is not empty, a file does not match, or a chain does not verify.',
    options: { parallel: { type: 'string' } },
    positionals: [1, 1],
    database: true,
    run: runRestore,
  },
  generate: {
    usage:
      'generate --villages N --households M [--years K] [--seed S] [--until YYYY-MM-DD] [--concurrency C]',
    summary: `Generate a realistic county or city for benches: villages (200 per county, 12 per township), households with Chinese names and cards, K years (default 2) of awards, deductions and redemptions posted through the ledger, consents for 60%. Deterministic for a seed (default 1) and until (default today); re-running adds nothing; resumes after an interruption. C households post at once (default ${GENERATE_CONCURRENCY_DEFAULT}).`,
    options: {
      villages: { type: 'string' },
      households: { type: 'string' },
      years: { type: 'string' },
      seed: { type: 'string' },
      until: { type: 'string' },
      concurrency: { type: 'string' },
    },
    positionals: [0, 0],
    database: true,
    run: runGenerate,
  },
  'migrate-levels': {
    usage: 'migrate-levels',
    summary:
      'Place villages created before township and county records existed under the records of their own township and county names (npm start does this at start-up). Idempotent.',
    options: {},
    positionals: [0, 0],
    database: true,
    run: runMigrateLevels,
  },
  'verify-export': {
    usage: 'verify-export FILE MANIFEST JWKS',
    summary:
      'Verify a credit export offline with the public keys alone: Ed25519 signature, SHA-256, row count, asOf and model of every row. Exit 1 when anything does not match.',
    options: {},
    positionals: [3, 3],
    database: false,
    run: runVerifyExport,
  },
};

/** The help text: every command with its usage and summary. */
export function helpText(): string {
  const lines = ['Usage: npm run cli -- <command> [options]', '', 'Commands:'];
  for (const cmd of Object.values(COMMANDS)) lines.push(`  ${cmd.usage}`, `      ${cmd.summary}`);
  lines.push(
    '',
    "Database: MONGODB_URI (+ MONGODB_DB) if set; else the running service's embedded database",
    '(DATA_DIR/run/mongodb.uri); else the CLI starts the embedded database on DATA_DIR itself.',
    'Exit codes: 0 ok, 1 problem found (bad rows, broken chain, name taken), 2 usage error,',
    '3 could not run (e.g. database unreachable).',
  );
  return lines.join('\n');
}

/** Runs one command line; never throws for bad input, returns the exit code. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    deps.io.err(helpText());
    return EXIT_USAGE;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    deps.io.out(helpText());
    return EXIT_OK;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    deps.io.err(`unknown command "${name}"\n\n${helpText()}`);
    return EXIT_USAGE;
  }
  let args: Parsed;
  try {
    const parsed = parseArgs({
      args: [...rest],
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    args = { values: parsed.values, positionals: parsed.positionals };
    if (args.values.help) {
      deps.io.out(`Usage: npm run cli -- ${cmd.usage}\n${cmd.summary}`);
      return EXIT_OK;
    }
    const [min, max] = cmd.positionals;
    if (args.positionals.length < min || args.positionals.length > max)
      throw new UsageError(`expected ${min === max ? min : `${min}–${max}`} argument(s)`);
  } catch (err) {
    deps.io.err(`${name}: ${(err as Error).message}\nUsage: npm run cli -- ${cmd.usage}`);
    return EXIT_USAGE;
  }

  let db: { source: string; close(): Promise<void> } | undefined;
  try {
    if (cmd.database) {
      db = await deps.connect();
      deps.logger.debug({ source: db.source }, 'database connected');
    }
    return await cmd.run(args, deps);
  } catch (err) {
    if (err instanceof UsageError) {
      deps.io.err(`${name}: ${err.message}\nUsage: npm run cli -- ${cmd.usage}`);
      return EXIT_USAGE;
    }
    if (err instanceof DomainError) {
      const errors = (err.details.errors as { path: string; message: string }[] | undefined) ?? [];
      deps.io.err(
        [`${name}: ${err.message}`, ...errors.map((e) => `  ${e.path}: ${e.message}`)].join('\n'),
      );
      return EXIT_PROBLEM;
    }
    throw err;
  } finally {
    await db?.close();
  }
}

const str = (args: Parsed, key: string): string | undefined => {
  const v = args.values[key];
  return typeof v === 'string' ? v : undefined;
};

async function runCreateAdmin(args: Parsed, { config, io }: CliDeps): Promise<number> {
  const username = str(args, 'username') ?? config.admin?.username;
  if (!username) throw new UsageError('--username is required (or set ADMIN_USERNAME)');
  let password = str(args, 'password');
  if (args.values['password-stdin']) {
    if (password !== undefined) throw new UsageError('give either --password or --password-stdin');
    if (!io.readStdin) throw new UsageError('--password-stdin needs a standard input');
    password = (await io.readStdin()).replace(/\r?\n$/, '');
  }
  password ??= config.admin?.password;
  if (password === undefined && io.promptSecret) {
    const first = await io.promptSecret('Password for the new admin (empty: generate one): ');
    if (first) {
      if ((await io.promptSecret('Repeat the password: ')) !== first) {
        io.err('create-admin: the passwords do not match; nothing was created.');
        return EXIT_PROBLEM;
      }
      password = first;
    }
  }
  const { user, generatedPassword } = await createAdmin({
    username,
    password,
    kdfLog2N: config.passwordKdfLog2N,
  });
  io.out(`admin "${user.username}" created (id ${user.id}).`);
  if (generatedPassword) io.out(`generated password (shown once): ${generatedPassword}`);
  return EXIT_OK;
}

async function runImportHouseholds(args: Parsed, { io }: CliDeps): Promise<number> {
  const file = args.positionals[0]!;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES')
      throw new UsageError(`cannot read ${file} (${code})`);
    throw err;
  }
  const village = str(args, 'village');
  const ok = await importHouseholdsCommand(
    {
      file,
      bytes,
      ...(village !== undefined ? { village } : {}),
      dryRun: Boolean(args.values['dry-run']),
      verbose: Boolean(args.values.verbose),
    },
    io,
  );
  return ok ? EXIT_OK : EXIT_PROBLEM;
}

async function runVerifyChain(args: Parsed, { io }: CliDeps): Promise<number> {
  const householdId = str(args, 'household');
  if (householdId !== undefined) {
    if (!/^[a-f0-9]{24}$/.test(householdId))
      throw new UsageError('--household takes a household id (24 hex digits)');
    if (!(await findHousehold(householdId))) {
      // Entries without a household record are still checked: the entries are what counts.
      if ((await listEntries(householdId, 0, 1)).items.length === 0)
        throw new UsageError(`no household ${householdId}`);
      io.err(`note: household ${householdId} is not registered; checking its entries`);
    }
  }
  const parallel = wholeNumber(args, 'parallel', 1, 64);
  const report = await verifyChains({
    ...(householdId !== undefined ? { householdId } : {}),
    ...(parallel !== undefined ? { concurrency: parallel } : {}),
    keepGoing: Boolean(args.values['keep-going']),
    onProgress: (n) => io.err(`… ${n} chains verified`),
  });
  return printVerifyReport(report, io);
}

function printVerifyReport(report: Awaited<ReturnType<typeof verifyChains>>, io: CliIo): number {
  for (const p of report.problems)
    io.out(`BROKEN household ${p.householdId} seq ${p.seq}: ${p.problem}`);
  if (report.problems.length) {
    io.out(`${report.problems.length} broken chain(s); ${report.verified} chain(s) checked.`);
    return EXIT_PROBLEM;
  }
  io.out(`${report.verified} chain${report.verified === 1 ? '' : 's'} verified.`);
  return EXIT_OK;
}

const wholeNumber = (args: Parsed, key: string, min: number, max: number): number | undefined => {
  const v = str(args, key);
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max)
    throw new UsageError(`--${key} takes a whole number ${min}–${max}`);
  return Number(v);
};

async function runSeedDemo(args: Parsed, { config, logger, io }: CliDeps): Promise<number> {
  const seed = wholeNumber(args, 'seed', 0, 2 ** 31 - 1);
  const households = wholeNumber(args, 'households', 3, 10_000);
  const credentialsFile = path.join(config.dataDir, 'demo-credentials.txt');
  const credentials = await seedDemoCounty({
    kdfLog2N: config.passwordKdfLog2N,
    idHasher: idNumberHasherFor(config),
    credentialsFile,
    logger,
    ...(seed !== undefined ? { seed } : {}),
    ...(households !== undefined ? { households } : {}),
  });
  if (!credentials) {
    io.out(
      `The demo county was seeded before; its credentials were printed then and written to ${credentialsFile}.`,
    );
    return EXIT_OK;
  }
  io.out(formatCredentials(credentials));
  io.out(`Written to ${credentialsFile} (readable by you only).`);
  return EXIT_OK;
}

function connectedDb(): Db {
  const db = mongoose.connection.db;
  if (!db) throw new Error('the database is not connected');
  return db;
}

async function runBackup(args: Parsed, { io }: CliDeps): Promise<number> {
  const dir = path.resolve(args.positionals[0]!);
  try {
    const manifest = await backupDatabase(connectedDb(), dir, (c) =>
      io.err(`… ${c.name}: ${c.documents} documents`),
    );
    const documents = manifest.collections.reduce((n, c) => n + c.documents, 0);
    io.out(
      `backed up ${manifest.collections.length} collections, ${documents} documents, to ${dir}.`,
    );
    return EXIT_OK;
  } catch (err) {
    if (err instanceof BackupError) {
      io.err(`backup: ${err.message}`);
      return EXIT_PROBLEM;
    }
    throw err;
  }
}

async function runRestore(args: Parsed, { io }: CliDeps): Promise<number> {
  const dir = path.resolve(args.positionals[0]!);
  const parallel = wholeNumber(args, 'parallel', 1, 64);
  try {
    const report = await restoreDatabase(connectedDb(), dir, (c) =>
      io.err(`… ${c.name}: ${c.documents} documents`),
    );
    io.out(`restored ${report.collections} collections, ${report.documents} documents.`);
  } catch (err) {
    if (err instanceof BackupError) {
      io.err(`restore: ${err.message}`);
      return EXIT_PROBLEM;
    }
    throw err;
  }
  const verified = await verifyChains({
    keepGoing: true,
    ...(parallel !== undefined ? { concurrency: parallel } : {}),
    onProgress: (n) => io.err(`… ${n} chains verified`),
  });
  return printVerifyReport(verified, io);
}

async function runGenerate(args: Parsed, { io }: CliDeps): Promise<number> {
  const villages = wholeNumber(args, 'villages', 1, 100_000);
  const households = wholeNumber(args, 'households', 1, 10_000_000);
  if (villages === undefined || households === undefined)
    throw new UsageError('--villages and --households are required');
  if (households < villages) throw new UsageError('--households must be at least --villages');
  const untilRaw = str(args, 'until');
  if (untilRaw !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(untilRaw))
    throw new UsageError('--until takes a date YYYY-MM-DD');
  const until = untilRaw ? new Date(`${untilRaw}T00:00:00Z`) : todayUtcMidnight();
  if (Number.isNaN(until.getTime()) || until.getTime() > Date.now())
    throw new UsageError('--until must be a real date, today or earlier');
  const concurrency = wholeNumber(args, 'concurrency', 1, 64);
  const opts = {
    villages,
    households,
    years: wholeNumber(args, 'years', 1, 20) ?? 2,
    seed: wholeNumber(args, 'seed', 0, 2 ** 31 - 1) ?? 1,
    until,
  };
  let lastReport = 0;
  const report = await generateCity(opts, {
    ...(concurrency !== undefined ? { concurrency } : {}),
    onProgress: (p) => {
      if (p.households < p.householdsTotal && p.elapsedMs - lastReport < 5000) return;
      lastReport = p.elapsedMs;
      const rate = p.entriesPosted / Math.max(1, p.elapsedMs / 1000);
      io.err(
        `… ${p.households.toLocaleString('en')}/${p.householdsTotal.toLocaleString('en')} households, ${p.entriesPosted.toLocaleString('en')} entries posted (${rate.toFixed(0)}/s), ${(p.elapsedMs / 1000).toFixed(0)} s`,
      );
    },
  });
  const n = (x: number) => x.toLocaleString('en');
  io.out(
    `${n(report.villages)} villages (${n(report.villagesCreated)} new, ${n(report.villagesDone)} finished before), ${n(report.households)} households (${n(report.householdsCreated)} new), ${n(report.entries)} entries (${n(report.entriesPosted)} posted now), ${n(report.consents)} consents (${n(report.consentsCreated)} new) in ${(report.elapsedMs / 1000).toFixed(1)} s.`,
  );
  if (report.msPer10kHouseholds !== undefined)
    io.out(`${(report.msPer10kHouseholds / 1000).toFixed(0)} s per 10,000 households on this run.`);
  io.out('Check every chain with: npm run cli -- verify-chain');
  return EXIT_OK;
}

async function runMigrateLevels(_args: Parsed, { io }: CliDeps): Promise<number> {
  const placed = await migrateVillageLevels();
  io.out(`${placed} village(s) placed under their township and county.`);
  return EXIT_OK;
}

function runVerifyExport(args: Parsed, { io }: CliDeps): number {
  const [file, manifest, jwks] = args.positionals as [string, string, string];
  let result;
  try {
    result = verifyExportFiles(file, manifest, jwks);
  } catch (err) {
    if (err instanceof VerifyInputError) throw new UsageError(err.message);
    throw err;
  }
  for (const c of result.checks) io.out(`ok       ${c}`);
  for (const p of result.problems) io.out(`PROBLEM  ${p}`);
  io.out(result.ok ? 'VERIFIED' : 'NOT VERIFIED');
  return result.ok ? EXIT_OK : EXIT_PROBLEM;
}
