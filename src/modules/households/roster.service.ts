/**
 * Imports a village roster (a spreadsheet saved as CSV) into households: the households
 * module's verb behind `npm run cli -- import-households` (src/cli/import-households.ts only
 * reads the file and prints the report).
 *
 * Invariants:
 * - Importing the same file twice creates nothing new: `cardNo` is unique (index) and is the
 *   only arbiter. A row whose card is already registered to the same head in the same village
 *   is skipped as "already registered"; registered to anyone else, it is a bad row.
 * - A bad row never stops the good ones; each bad row is reported with the file line it starts
 *   on and a reason code (stable, for scripts) plus a Chinese message (for the clerk fixing
 *   the spreadsheet).
 * - Rows are validated by the same schema as `POST /v1/households`, so the CLI stores nothing
 *   the API would refuse (the text policy of platform/text.ts included: well-formed, NFC, no
 *   control, bidirectional or zero-width characters), and stores the same normalised values.
 * - A card that appears twice in the file with different contents is bad on every line: one
 *   of them is a typo and households cannot be edited afterwards, so neither is guessed.
 * - Households are inserted one by one (insertMany is not atomic on FerretDB), never read
 *   first and written after: the insert's duplicate-key error says what is already there.
 */
import type { Types } from 'mongoose';
import { eachAtOnce } from '../../platform/at-once';
import { DomainError } from '../../platform/errors';
import type { VillageDoc } from '../villages/villages.model';
import { findVillagesNamed } from '../villages/villages.service';
import { findHouseholdByCard, insertHousehold } from './households.service';
import {
  ImportFileError,
  IMPORT_FILE_BYTES_MAX,
  mapHeader,
  parseRows,
  type FileErrorCode,
  type ParsedRow,
} from './roster.file';
import { bad, checkRow, type GoodRow, type RowOutcome } from './roster.rows';

/** Inserts in flight at once: enough to hide round trips, few enough not to crowd the service. */
const INSERT_CONCURRENCY = 8;

export interface ImportReport {
  dryRun: boolean;
  /** Set when the file as a whole cannot be imported; then nothing was imported. */
  fileError?: { code: FileErrorCode; message: string; line?: number };
  /** Header columns that are not used (e.g. 序号, 备注). */
  ignoredColumns: string[];
  outcomes: RowOutcome[];
  created: number;
  skipped: number;
  bad: number;
}

export interface ImportOptions {
  /** Village code (or id) for rows whose 村 cell is empty, or for files without a 村 column. */
  village?: string;
  /** Validate and look up everything, write nothing. */
  dryRun?: boolean;
  /** Called after each processed row (for progress output). */
  onRow?: (done: number, total: number) => void;
}

/** Finds villages by code (exact) or name, caching answers for the whole file. */
function villageResolver() {
  const cache = new Map<string, Promise<VillageDoc[]>>();
  return (value: string): Promise<VillageDoc[]> => {
    let found = cache.get(value);
    if (!found) {
      found = findVillagesNamed(value);
      cache.set(value, found);
    }
    return found;
  };
}

/**
 * Imports households from CSV text. Never throws for bad data: file-level problems come back
 * as `fileError` (nothing imported), row problems as `bad` outcomes (the other rows imported).
 */
export async function importHouseholdsCsv(
  text: string,
  opts: ImportOptions = {},
): Promise<ImportReport> {
  const dryRun = Boolean(opts.dryRun);
  const report: ImportReport = {
    dryRun,
    ignoredColumns: [],
    outcomes: [],
    created: 0,
    skipped: 0,
    bad: 0,
  };
  try {
    await importInto(report, text, opts);
  } catch (err) {
    if (!(err instanceof ImportFileError)) throw err;
    report.fileError = {
      code: err.code,
      message: err.message,
      ...(err.line !== undefined ? { line: err.line } : {}),
    };
  }
  report.outcomes.sort((a, b) => a.line - b.line);
  for (const o of report.outcomes) {
    if (o.status === 'bad') report.bad++;
    else if (o.status === 'skipped') report.skipped++;
    else report.created++;
  }
  return report;
}

/**
 * The village of rows without one: --village (which must name exactly one), else none; a file
 * without a 村 column needs --village.
 */
async function defaultVillageOf(
  opts: ImportOptions,
  hasVillageColumn: boolean,
  header: ParsedRow,
  resolveVillage: (v: string) => Promise<VillageDoc[]>,
): Promise<VillageDoc | undefined> {
  if (opts.village !== undefined) {
    const found = await resolveVillage(opts.village.trim());
    if (found.length !== 1)
      throw new ImportFileError(
        'unknown_village',
        `找不到 --village 指定的村“${opts.village}”（请用村代码）。`,
      );
    return found[0];
  }
  if (!hasVillageColumn) {
    throw new ImportFileError(
      'missing_column',
      '文件没有“村”列：请加上该列，或用 --village 村代码 指定村。',
      header.line,
    );
  }
  return undefined;
}

/**
 * Pass 2: a card twice in the file. Identical lines are a harmless copy: the first counts.
 * Different contents: one of them is a typo, so none of them is imported. Returns the rows to
 * insert, in file order.
 */
function oncePerCard(candidates: GoodRow[], outcomes: RowOutcome[]): GoodRow[] {
  const byCard = new Map<string, GoodRow[]>();
  for (const c of candidates) byCard.set(c.cardNo, [...(byCard.get(c.cardNo) ?? []), c]);
  const toInsert: GoodRow[] = [];
  for (const [cardNo, group] of byCard) {
    const first = group[0]!;
    const same = (r: GoodRow) =>
      r.villageId === first.villageId &&
      r.head === first.head &&
      r.members.map((m) => m.name).join('\u0001') ===
        first.members.map((m) => m.name).join('\u0001');
    const lines = group.map((r) => r.line).join('、');
    if (group.every(same)) {
      toInsert.push(first);
      for (const r of group.slice(1))
        outcomes.push(
          bad(
            r.line,
            'duplicate_in_file',
            `卡号 ${cardNo} 与第 ${first.line} 行重复（内容相同，只导入一次）。`,
            cardNo,
          ),
        );
    } else {
      for (const r of group)
        outcomes.push(
          bad(
            r.line,
            'duplicate_in_file',
            `卡号 ${cardNo} 在第 ${lines} 行出现，内容不同；请核对后只保留一行。`,
            cardNo,
          ),
        );
    }
  }
  return toInsert.sort((a, b) => a.index - b.index);
}

/** Pass 3: write (or, in a dry run, look up) one row at a time, a few in flight. */
async function writeRows(
  toInsert: GoodRow[],
  outcomes: RowOutcome[],
  opts: ImportOptions,
): Promise<void> {
  let done = 0;
  await eachAtOnce(toInsert, INSERT_CONCURRENCY, async (row) => {
    outcomes.push(opts.dryRun ? await dryRunRow(row) : await insertRow(row));
    opts.onRow?.(++done, toInsert.length);
  });
}

async function importInto(report: ImportReport, text: string, opts: ImportOptions): Promise<void> {
  if (text.length > IMPORT_FILE_BYTES_MAX)
    throw new ImportFileError('file_too_large', '文件过大，请按村拆分后分别导入。');
  const rows = parseRows(text).filter((r) => r.cells.some((c) => c.trim() !== ''));
  const header = rows.shift();
  if (!header)
    throw new ImportFileError(
      'empty_file',
      '文件是空的：第一行应为表头（户主,家庭成员,卡号,村）。',
    );
  const { columns, ignored } = mapHeader(header);
  report.ignoredColumns = ignored;

  const resolveVillage = villageResolver();
  const hasVillageColumn = columns.village !== undefined;
  const defaultVillage = await defaultVillageOf(opts, hasVillageColumn, header, resolveVillage);

  // Pass 1: validate every row on its own.
  const at = { columns, headerWidth: header.cells.length };
  const candidates: GoodRow[] = [];
  for (const [index, row] of rows.entries()) {
    const outcome = await checkRow(row, at, { defaultVillage, resolveVillage });
    if ('status' in outcome) report.outcomes.push(outcome);
    else candidates.push({ ...outcome, index });
  }
  await writeRows(oncePerCard(candidates, report.outcomes), report.outcomes, opts);
}

/** The outcome for a card that the database already holds. */
function alreadyThere(
  row: GoodRow,
  existing: { _id: Types.ObjectId; villageId: string; head: string },
): RowOutcome {
  if (existing.villageId === row.villageId && existing.head === row.head) {
    return {
      line: row.line,
      status: 'skipped',
      reason: 'already_registered',
      message: `卡号 ${row.cardNo} 已登记，跳过。`,
      cardNo: row.cardNo,
      householdId: existing._id.toHexString(),
    };
  }
  return bad(
    row.line,
    'card_taken',
    `卡号 ${row.cardNo} 已登记在另一户（户主 ${existing.head}）名下。`,
    row.cardNo,
  );
}

async function insertRow(row: GoodRow): Promise<RowOutcome> {
  try {
    const h = await insertHousehold({
      villageId: row.villageId,
      head: row.head,
      members: row.members,
      cardNo: row.cardNo,
    });
    return { line: row.line, status: 'created', cardNo: row.cardNo, householdId: h.id };
  } catch (err) {
    if (!(err instanceof DomainError && err.code === 'conflict')) throw err;
    // The unique index refused the card: say what holds it.
    const existing = await findHouseholdByCard(row.cardNo);
    if (!existing) throw err;
    return alreadyThere(row, existing);
  }
}

async function dryRunRow(row: GoodRow): Promise<RowOutcome> {
  const existing = await findHouseholdByCard(row.cardNo);
  if (existing) return alreadyThere(row, existing);
  return { line: row.line, status: 'would_create', cardNo: row.cardNo };
}
