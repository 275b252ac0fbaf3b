/**
 * The commands that check or carry the data: verify the hash chains, back up, restore (and
 * verify what was restored), and verify a credit export offline.
 */
import path from 'node:path';
import type { Db } from 'mongodb';
import mongoose from 'mongoose';
import { consentHeadsPending } from '../modules/credit/consent-chain';
import { findHousehold } from '../modules/households/households.service';
import { listEntries } from '../modules/ledger/ledger.service';
import { BackupError, backupDatabase, restoreDatabase } from './backup';
import { EXIT_OK, EXIT_PROBLEM, str, UsageError, wholeNumber, type Parsed } from './cli-args';
import type { CliDeps, CliIo } from './commands';
import { verifyChains } from './verify-chain';
import { VerifyInputError, verifyExportFiles } from './verify-export';

export async function runVerifyChain(args: Parsed, { io }: CliDeps): Promise<number> {
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
  // --parallel is still accepted (and checked) for old scripts; one pass has nothing to share out.
  wholeNumber(args, 'parallel', 1, 64);
  const report = await verifyChains({
    ...(householdId !== undefined ? { householdId } : {}),
    keepGoing: Boolean(args.values['keep-going']),
    onEntries: (n) => io.err(`… ${n} entries read`),
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

function connectedDb(): Db {
  const db = mongoose.connection.db;
  if (!db) throw new Error('the database is not connected');
  return db;
}

export async function runBackup(args: Parsed, { io }: CliDeps): Promise<number> {
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

export async function runRestore(args: Parsed, { io }: CliDeps): Promise<number> {
  const dir = path.resolve(args.positionals[0]!);
  wholeNumber(args, 'parallel', 1, 64); // accepted for old scripts: verification is one pass
  try {
    const report = await restoreDatabase(connectedDb(), dir, (c) =>
      io.err(`… ${c.name}: ${c.documents} documents`),
    );
    io.out(`restored ${report.collections} collections, ${report.documents} documents.`);
    // The restore is the backup exactly; a backup from before consent chains is migrated at the
    // next start (or by migrate-consents), which the operator is told here.
    if (await consentHeadsPending())
      io.err(
        'this database has not had the consent-heads migration: the officer look-up finds consents stored before consent chains after `npm start` or `npm run cli -- migrate-consents`.',
      );
  } catch (err) {
    if (err instanceof BackupError) {
      io.err(`restore: ${err.message}`);
      return EXIT_PROBLEM;
    }
    throw err;
  }
  const verified = await verifyChains({
    keepGoing: true,
    onEntries: (n) => io.err(`… ${n} entries read`),
  });
  return printVerifyReport(verified, io);
}

export function runVerifyExport(args: Parsed, { io }: CliDeps): number {
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
