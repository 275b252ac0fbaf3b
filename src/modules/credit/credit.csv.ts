/**
 * The export file's format: a UTF-8 CSV (RFC 4180) that starts with a byte-order mark, so that
 * Excel and WPS read the Chinese right; names masked; text that a spreadsheet would run as a
 * formula defused. The writer (credit.export-run.ts) and the offline verifier (credit.verify.ts)
 * share this header.
 */
import { graphemes } from '../../platform/text';

/** First character of every export file: U+FEFF, the bytes EF BB BF. */
export const UTF8_BOM = '\uFEFF';

export const CSV_HEADER = [
  'householdId',
  'customerRef',
  'headName',
  'villageCode',
  'villageName',
  'score',
  'grade',
  'reasonCodes',
  'asOf',
  'modelVersion',
] as const;

/** 张*明: the first and last characters kept, every one between hidden; 张* for two. */
export function maskName(name: string): string {
  const chars = graphemes(name.trim());
  if (chars.length <= 1) return '*';
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${'*'.repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}

/**
 * One CSV field (RFC 4180). Text that a spreadsheet would run as a formula (=, +, -, @, tab,
 * CR first) is prefixed with an apostrophe, since customer references and names come from users.
 */
export function csvField(value: string | number): string {
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV record, CRLF-terminated. */
export const csvLine = (fields: (string | number)[]) => `${fields.map(csvField).join(',')}\r\n`;
