/**
 * The commands that set a county up: its first admin, its households from a roster, the demo
 * county, a generated county for benches, the township/county levels migration, and the word to
 * running services that configuration changed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatCredentials, seedDemoCounty } from '../modules/demo/demo.seed';
import { migrateConsentHeads } from '../modules/credit/consent-chain';
import { migrateVillageLevels } from '../modules/villages/villages.service';
import { idNumberHasherFor } from '../modules/volunteers/id-number';
import { EXIT_OK, EXIT_PROBLEM, str, UsageError, wholeNumber, type Parsed } from './cli-args';
import type { CliDeps } from './commands';
import { createAdmin } from './create-admin';
import { generateCity } from './generate';
import { todayUtcMidnight } from './generate-plan';
import { importHouseholdsCommand } from './import-households';

export async function runCreateAdmin(args: Parsed, { config, io }: CliDeps): Promise<number> {
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

export async function runImportHouseholds(args: Parsed, { io }: CliDeps): Promise<number> {
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

export async function runSeedDemo(args: Parsed, { config, logger, io }: CliDeps): Promise<number> {
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

export async function runGenerate(args: Parsed, { io }: CliDeps): Promise<number> {
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

export async function runMigrateLevels(_args: Parsed, { io }: CliDeps): Promise<number> {
  const placed = await migrateVillageLevels();
  io.out(`${placed} village(s) placed under their township and county.`);
  return EXIT_OK;
}

export async function runMigrateConsents(_args: Parsed, { io }: CliDeps): Promise<number> {
  const heads = await migrateConsentHeads();
  io.out(`${heads} consent head(s) written for consents stored before consent chains.`);
  return EXIT_OK;
}

/** `config-changed`: running services re-read the configuration they cache (after a hand edit). */
export async function runConfigChanged(_args: Parsed, { io, announceConfigChange }: CliDeps) {
  const told = await announceConfigChange?.();
  if (!told?.url) {
    io.err(
      told?.warning ??
        'config-changed: no Redis answered (REDIS_URL, DATA_DIR/run/redis.url, 127.0.0.1:6379), so no running service holds a cache to empty.',
    );
    return EXIT_PROBLEM;
  }
  io.out('Configuration epoch raised: every running service reads its configuration afresh.');
  return EXIT_OK;
}
