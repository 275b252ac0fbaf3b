/**
 * A roster file as the households import reads it (roster.service.ts holds the invariants): the
 * bytes strictly as UTF-8, the CSV rows with the file line each starts on, and the header's
 * columns by the names spreadsheets in the field use. Every problem here is a problem of the
 * whole file (ImportFileError): nothing is imported.
 */
import { parse } from 'csv-parse/sync';

/** Largest roster file accepted: a county's ~150k households fit in about 15 MB. */
export const IMPORT_FILE_BYTES_MAX = 64 * 1024 * 1024;
/** Header names accepted for each field (spreadsheets in the field use several). */
export const HEADER_ALIASES: Record<Field, readonly string[]> = {
  head: ['户主', '户主姓名', '户主名'],
  members: ['家庭成员', '成员', '家庭成员姓名'],
  cardNo: ['卡号', '积分卡号', '积分卡', '文明实践积分卡号'],
  village: ['村', '村名', '所属村', '村代码', '行政村'],
};
export type Field = 'head' | 'members' | 'cardNo' | 'village';

export type FileErrorCode =
  | 'not_utf8'
  | 'file_too_large'
  | 'csv_syntax'
  | 'empty_file'
  | 'missing_column'
  | 'duplicate_column'
  | 'unknown_village';

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

export interface ParsedRow {
  line: number;
  cells: string[];
}

/** Parses CSV text into rows with the line each starts on. Throws ImportFileError on bad syntax. */
export function parseRows(text: string): ParsedRow[] {
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

export function mapHeader(header: ParsedRow): {
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
