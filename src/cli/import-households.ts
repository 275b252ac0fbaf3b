/**
 * `import-households FILE.csv [--village CODE] [--dry-run] [--verbose]`: the command's edge.
 * The roster logic (decoding, columns, validation, the inserts and their invariants) is the
 * households module's (src/modules/households/roster.service.ts); this file only turns the
 * parsed arguments into a call and the report into lines.
 */
import { decodeCsvFile, ImportFileError } from '../modules/households/roster.file';
import { importHouseholdsCsv, type ImportReport } from '../modules/households/roster.service';
import type { CliIo } from './commands';

export interface ImportHouseholdsArgs {
  /** The path as given, for messages. */
  file: string;
  /** The file's bytes (the caller reads them, so an unreadable path is its usage error). */
  bytes: Uint8Array;
  village?: string;
  dryRun: boolean;
  verbose: boolean;
}

/** Runs the import and prints its report; true when every row was good (exit 0). */
export async function importHouseholdsCommand(
  args: ImportHouseholdsArgs,
  io: CliIo,
): Promise<boolean> {
  let text: string;
  try {
    text = decodeCsvFile(args.bytes);
  } catch (err) {
    if (!(err instanceof ImportFileError)) throw err;
    io.err(`${args.file}: ${err.code} ${err.message}`);
    return false;
  }
  const report = await importHouseholdsCsv(text, {
    ...(args.village !== undefined ? { village: args.village } : {}),
    dryRun: args.dryRun,
    onRow: (done, total) => {
      if (done % 1000 === 0) io.err(`… ${done}/${total} rows`);
    },
  });
  printImportReport(report, io, args.verbose);
  return !report.fileError && report.bad === 0;
}

function printImportReport(report: ImportReport, io: CliIo, verbose: boolean): void {
  if (report.fileError) {
    io.err(
      `file error${report.fileError.line ? ` (line ${report.fileError.line})` : ''}: ${report.fileError.code} ${report.fileError.message}`,
    );
    io.out('nothing imported.');
    return;
  }
  if (report.ignoredColumns.length) io.err(`ignored columns: ${report.ignoredColumns.join(', ')}`);
  for (const o of report.outcomes) {
    if (o.status === 'bad') io.out(`line ${o.line}: ${o.reason} ${o.message}`);
    else if (verbose && o.status === 'skipped')
      io.out(`line ${o.line}: skipped (${o.reason}) ${o.message}`);
    else if (verbose) io.out(`line ${o.line}: ${o.status} ${o.cardNo}`);
  }
  const verb = report.dryRun ? 'would create' : 'created';
  io.out(
    `${verb} ${report.created}, skipped ${report.skipped} (already registered), bad ${report.bad}${report.dryRun ? ' (dry run: nothing was written)' : ''}.`,
  );
}
