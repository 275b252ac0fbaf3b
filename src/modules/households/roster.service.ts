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
import { parse } from 'csv-parse/sync';
import type { Types } from 'mongoose';
import { DomainError } from '../../platform/errors';
import { checkText } from '../../platform/text';
import type { VillageDoc } from '../villages/villages.model';
import { findVillagesNamed } from '../villages/villages.service';
import {
  CARD_NO_RE,
  createHouseholdBody,
  MEMBERS_MAX,
  PERSON_NAME_MAX,
} from './households.schemas';
import { findHouseholdByCard, insertHousehold } from './households.service';

/** Largest roster file accepted: a county's ~150k households fit in about 15 MB. */
export const IMPORT_FILE_BYTES_MAX = 64 * 1024 * 1024;
/** Inserts in flight at once: enough to hide round trips, few enough not to crowd the service. */
const INSERT_CONCURRENCY = 8;

/** Header names accepted for each field (spreadsheets in the field use several). */
const HEADER_ALIASES: Record<Field, readonly string[]> = {
  head: ['户主', '户主姓名', '户主名'],
  members: ['家庭成员', '成员', '家庭成员姓名'],
  cardNo: ['卡号', '积分卡号', '积分卡', '文明实践积分卡号'],
  village: ['村', '村名', '所属村', '村代码', '行政村'],
};
type Field = 'head' | 'members' | 'cardNo' | 'village';

/** Separators between member names in one cell: 、 , ， ; ； and any whitespace (incl. U+3000). */
const MEMBER_SEPARATORS = /[、,，;；\s]+/u;

export type RowReason =
  | 'missing_head'
  | 'bad_head'
  | 'missing_card'
  | 'bad_card_number'
  | 'bad_members'
  | 'missing_village'
  | 'unknown_village'
  | 'ambiguous_village'
  | 'village_mismatch'
  | 'too_many_fields'
  | 'duplicate_in_file'
  | 'card_taken'
  | 'already_registered';

export type FileErrorCode =
  | 'not_utf8'
  | 'file_too_large'
  | 'csv_syntax'
  | 'empty_file'
  | 'missing_column'
  | 'duplicate_column'
  | 'unknown_village';

export interface RowOutcome {
  /** File line the row starts on (1 = the header line when the file starts with it). */
  line: number;
  status: 'created' | 'would_create' | 'skipped' | 'bad';
  cardNo?: string;
  householdId?: string;
  /** Set for `skipped` and `bad`. */
  reason?: RowReason;
  /** Chinese explanation for the person fixing the spreadsheet. */
  message?: string;
}

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

export class ImportFileError extends Error {
  constructor(
    readonly code: FileErrorCode,
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

/**
 * Decodes a roster file strictly as UTF-8 (a BOM is dropped). Spreadsheets saved by Chinese
 * Excel as plain "CSV" are GBK; decoding those as UTF-8 would store mojibake, so they are refused.
 */
export function decodeCsvFile(bytes: Uint8Array): string {
  if (bytes.length > IMPORT_FILE_BYTES_MAX) {
    throw new ImportFileError(
      'file_too_large',
      `文件超过 ${IMPORT_FILE_BYTES_MAX / 1024 / 1024} MB，请按村拆分后分别导入。`,
    );
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new ImportFileError(
      'not_utf8',
      '文件是 UTF-16 编码（Excel“Unicode 文本”）：请另存为“CSV UTF-8（逗号分隔）”。',
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ImportFileError(
      'not_utf8',
      '文件不是 UTF-8 编码（可能是 GBK）：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”。',
    );
  }
}

interface ParsedRow {
  line: number;
  cells: string[];
}

/** Parses CSV text into rows with the line each starts on. Throws ImportFileError on bad syntax. */
function parseRows(text: string): ParsedRow[] {
  let records: { record: string[]; info: { lines: number }; raw: string }[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      raw: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as typeof records; // csv-parse types the `info` + `raw` shape as any
  } catch (err) {
    const e = err as { code?: string; lines?: number; message?: string };
    throw new ImportFileError(
      'csv_syntax',
      `CSV 格式错误（第 ${e.lines ?? '?'} 行附近）：${e.message ?? String(err)}`,
      e.lines,
    );
  }
  return records.map(({ record, info, raw }) => {
    // info.lines is the line the record ends on; a quoted cell may span lines, and raw also
    // carries the blank lines skipped before the record.
    const body = raw.replace(/^(\r?\n)+/, '').replace(/\r?\n$/, '');
    const spanned = (body.match(/\n/g) ?? []).length;
    return { line: info.lines - spanned, cells: record };
  });
}

const normaliseHeader = (h: string): string => h.replace(/^\uFEFF/, '').replace(/[\s*＊:：]/gu, '');

function mapHeader(header: ParsedRow): {
  columns: Partial<Record<Field, number>>;
  ignored: string[];
} {
  const columns: Partial<Record<Field, number>> = {};
  const ignored: string[] = [];
  header.cells.forEach((raw, index) => {
    const name = normaliseHeader(raw);
    const field = (Object.keys(HEADER_ALIASES) as Field[]).find((f) =>
      HEADER_ALIASES[f].includes(name),
    );
    if (!field) {
      if (name) ignored.push(raw.trim());
      return;
    }
    if (columns[field] !== undefined) {
      throw new ImportFileError(
        'duplicate_column',
        `表头中“${HEADER_ALIASES[field][0]}”出现了两次。`,
        header.line,
      );
    }
    columns[field] = index;
  });
  for (const required of ['head', 'cardNo'] as const) {
    if (columns[required] === undefined) {
      throw new ImportFileError(
        'missing_column',
        `第 ${header.line} 行（表头）缺少“${HEADER_ALIASES[required][0]}”列；表头应为：户主,家庭成员,卡号,村。`,
        header.line,
      );
    }
  }
  return { columns, ignored };
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

interface GoodRow {
  index: number;
  line: number;
  villageId: string;
  head: string;
  members: { name: string }[];
  cardNo: string;
}

const bad = (line: number, reason: RowReason, message: string, cardNo?: string): RowOutcome => ({
  line,
  status: 'bad',
  reason,
  message,
  ...(cardNo ? { cardNo } : {}),
});

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
  let defaultVillage: VillageDoc | undefined;
  if (opts.village !== undefined) {
    const found = await resolveVillage(opts.village.trim());
    if (found.length !== 1)
      throw new ImportFileError(
        'unknown_village',
        `找不到 --village 指定的村“${opts.village}”（请用村代码）。`,
      );
    defaultVillage = found[0];
  } else if (columns.village === undefined) {
    throw new ImportFileError(
      'missing_column',
      '文件没有“村”列：请加上该列，或用 --village 村代码 指定村。',
      header.line,
    );
  }

  // Pass 1: validate every row on its own.
  const candidates: GoodRow[] = [];
  for (const [index, row] of rows.entries()) {
    const outcome = await checkRow(
      row,
      columns,
      header.cells.length,
      defaultVillage,
      resolveVillage,
    );
    if ('status' in outcome) report.outcomes.push(outcome);
    else candidates.push({ ...outcome, index });
  }

  // Pass 2: a card twice in the file. Identical lines are a harmless copy: the first counts.
  // Different contents: one of them is a typo, so none of them is imported.
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
        report.outcomes.push(
          bad(
            r.line,
            'duplicate_in_file',
            `卡号 ${cardNo} 与第 ${first.line} 行重复（内容相同，只导入一次）。`,
            cardNo,
          ),
        );
    } else {
      for (const r of group)
        report.outcomes.push(
          bad(
            r.line,
            'duplicate_in_file',
            `卡号 ${cardNo} 在第 ${lines} 行出现，内容不同；请核对后只保留一行。`,
            cardNo,
          ),
        );
    }
  }

  // Pass 3: write (or, in a dry run, look up) one row at a time, a few in flight.
  toInsert.sort((a, b) => a.index - b.index);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < toInsert.length) {
      const row = toInsert[next++]!;
      report.outcomes.push(opts.dryRun ? await dryRunRow(row) : await insertRow(row));
      opts.onRow?.(++done, toInsert.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(INSERT_CONCURRENCY, toInsert.length) }, worker));
}

async function checkRow(
  row: ParsedRow,
  columns: Partial<Record<Field, number>>,
  headerWidth: number,
  defaultVillage: VillageDoc | undefined,
  resolveVillage: (v: string) => Promise<VillageDoc[]>,
): Promise<RowOutcome | Omit<GoodRow, 'index'>> {
  const { line, cells } = row;
  const cell = (f: Field) => (columns[f] === undefined ? '' : (cells[columns[f]] ?? '').trim());
  // Full-width letters, digits and dashes (ＤＭ－０００１) are common in Chinese spreadsheets.
  const cardNo = cell('cardNo').normalize('NFKC').trim();
  const card = cardNo || undefined;

  if (cells.length > headerWidth && cells.slice(headerWidth).some((c) => c.trim() !== '')) {
    return bad(
      line,
      'too_many_fields',
      `本行有 ${cells.length} 列，表头只有 ${headerWidth} 列：单元格里的逗号要用英文双引号把整个单元格括起来。`,
      card,
    );
  }
  const head = cell('head');
  if (!head) return bad(line, 'missing_head', '缺少户主姓名。', card);
  if (!cardNo) return bad(line, 'missing_card', '缺少卡号。');
  if (!CARD_NO_RE.test(cardNo))
    return bad(
      line,
      'bad_card_number',
      `卡号“${cardNo}”格式不正确：应为 4–32 位字母、数字或“-”。`,
      cardNo,
    );
  const names = cell('members').split(MEMBER_SEPARATORS).filter(Boolean);
  if (names.length > MEMBERS_MAX)
    return bad(
      line,
      'bad_members',
      `家庭成员最多 ${MEMBERS_MAX} 人，本行有 ${names.length} 人。`,
      cardNo,
    );

  let village = defaultVillage;
  const villageCell = cell('village');
  if (villageCell) {
    const found = await resolveVillage(villageCell);
    const isDefault = (v: VillageDoc) =>
      defaultVillage !== undefined && v._id.equals(defaultVillage._id);
    if (found.length === 0)
      return bad(line, 'unknown_village', `找不到村“${villageCell}”（可填村名或村代码）。`, cardNo);
    if (defaultVillage) {
      if (!found.some(isDefault)) {
        return bad(
          line,
          'village_mismatch',
          `村“${villageCell}”与 --village 指定的村（${defaultVillage.name}）不一致。`,
          cardNo,
        );
      }
    } else if (found.length > 1) {
      return bad(line, 'ambiguous_village', `有多个村叫“${villageCell}”：请填村代码。`, cardNo);
    } else {
      village = found[0];
    }
  }
  if (!village)
    return bad(line, 'missing_village', '缺少村：请填写“村”列，或用 --village 指定。', cardNo);

  // The API's own schema has the last word, so the CLI never stores what the API would refuse.
  const candidate = {
    villageId: village._id.toHexString(),
    head,
    members: names.map((name) => ({ name })),
    cardNo,
  };
  const checked = createHouseholdBody.safeParse(candidate);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    if (field === 'head')
      return bad(
        line,
        'bad_head',
        `户主姓名“${printable(head)}”不合规：${whyZh(head, 'name', PERSON_NAME_MAX)}。`,
        cardNo,
      );
    if (field === 'members') {
      const i = Number(issue?.path[1] ?? 0);
      const member = names[i] ?? '';
      return bad(
        line,
        'bad_members',
        `家庭成员“${printable(member)}”的姓名不合规：${whyZh(member, 'name', PERSON_NAME_MAX)}。`,
        cardNo,
      );
    }
    return bad(line, 'bad_card_number', `卡号“${printable(cardNo)}”格式不正确。`, cardNo);
  }
  // Store what the API would store: the schema's normalised (NFC, trimmed) values.
  const data = checked.data;
  return {
    line,
    villageId: data.villageId,
    head: data.head,
    members: data.members ?? [],
    cardNo: data.cardNo,
  };
}

/** Why a name breaks the text policy, in Chinese for the clerk fixing the spreadsheet. */
function whyZh(value: string, kind: 'name', max: number): string {
  const r = checkText(value, { kind, max });
  return 'problem' in r ? r.problem.messageZh : '格式不正确';
}

/** A cell shown in a message: invisible and control characters as \u{…}, so the clerk can find them. */
function printable(value: string): string {
  return value.replace(
    /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu,
    (ch) => `\\u{${ch.codePointAt(0)!.toString(16).toUpperCase()}}`,
  );
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
