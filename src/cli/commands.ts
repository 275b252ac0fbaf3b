/**
 * The CLI's command table and argument handling. `runCli(argv, deps)` returns the exit code and
 * prints through `deps`, so tests run commands in-process as well as in a real process.
 *
 * Exit codes: 0 success; 1 the command ran and found a problem (bad rows, a broken chain, a
 * taken username); 2 usage error (unknown command or option, missing argument).
 *
 * To add a command, add one entry to COMMANDS: its name, usage line, summary, parseArgs
 * options, and a `run` that gets the parsed arguments (the database is already connected
 * when `database` is true). The runs live in run-setup.ts (setting a county up) and
 * run-integrity.ts (checking and carrying the data); what they share is in cli-args.ts.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../../config';
import { DomainError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import {
  EXIT_OK,
  EXIT_PROBLEM,
  EXIT_USAGE,
  UsageError,
  type Command,
  type Parsed,
} from './cli-args';
import type { ConfigAnnouncement } from './config-epoch';
import { GENERATE_CONCURRENCY_DEFAULT } from './generate';
import { runBackup, runRestore, runVerifyChain, runVerifyExport } from './run-integrity';
import {
  runConfigChanged,
  runCreateAdmin,
  runGenerate,
  runImportHouseholds,
  runMigrateConsents,
  runMigrateLevels,
  runSeedDemo,
} from './run-setup';

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
  /** Tells running services that configuration changed (absent: nobody to tell, as in tests). */
  announceConfigChange?: () => Promise<ConfigAnnouncement>;
}

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
    changesConfig: true,
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
    changesConfig: true,
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
    changesConfig: true,
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
    changesConfig: true,
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
    changesConfig: true,
    run: runGenerate,
  },
  'migrate-levels': {
    usage: 'migrate-levels',
    summary:
      'Place villages created before township and county records existed under the records of their own township and county names (npm start does this at start-up). Idempotent.',
    options: {},
    positionals: [0, 0],
    database: true,
    changesConfig: true,
    run: runMigrateLevels,
  },
  'migrate-consents': {
    usage: 'migrate-consents',
    summary:
      'Give every household-and-cooperative pair whose consents were stored before consent chains a head naming the latest of them, so the officer look-up finds them by _id (npm start does this at start-up; restore after loading). Once per database; idempotent.',
    options: {},
    positionals: [0, 0],
    database: true,
    run: runMigrateConsents,
  },
  'config-changed': {
    usage: 'config-changed',
    summary:
      'Tell the running services to read their cached configuration (users, terminals, stores, villages, items, households, PINs) afresh, after a hand edit in the database; commands of this CLI that change it do so themselves. Exit 1 when no Redis answered.',
    options: {},
    positionals: [0, 0],
    database: false,
    run: runConfigChanged,
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
  let ran = false;
  try {
    if (cmd.database) {
      db = await deps.connect();
      deps.logger.debug({ source: db.source }, 'database connected');
    }
    ran = true;
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
    // Whatever the outcome, what it wrote so far is seen by the running services at once.
    if (ran && cmd.changesConfig) {
      const told = await deps.announceConfigChange?.();
      if (told?.warning) deps.io.err(told.warning);
    }
  }
}
