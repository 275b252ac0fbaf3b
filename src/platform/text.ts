/**
 * The one text policy: what a string must be before the service stores, hashes or prints it,
 * and how the service cuts text it builds itself.
 *
 * Why it matters: an entry's hash is computed over the string in memory, and the database
 * stores UTF-8. A string that is not well-formed UTF-16 (a lone surrogate) is stored as U+FFFD,
 * so the stored entry no longer matches its hash, and entries are never edited: one bad string
 * would break a household's chain for good. Invisible and direction-changing characters make
 * two names look alike, or make a reason read differently from what it says (Trojan Source).
 *
 * Invariants:
 * - T1 accepted text is well-formed Unicode, NFC, trimmed, 1..max code points, and contains no
 *   C0/C1 control character (a newline only in multi-line free text), no bidirectional override
 *   or isolate (U+202A–U+202E, U+2066–U+2069), and, in names, no zero-width character.
 * - T2 text the service cuts is cut between grapheme clusters (what a reader sees as one
 *   character): never inside a surrogate pair, an emoji sequence or a base with its marks.
 * - T3 `isStorableText` is exactly "what is stored reads back the same": well-formed, no NUL.
 */

/** How a piece of text may look. */
export type TextKind =
  /** A person's, place's or organisation's name: one line, no zero-width characters. */
  | 'name'
  /** One line of free text (a reason, a title, an item name): emoji sequences allowed. */
  | 'line'
  /** Long free text (evidence, notes): newlines allowed. */
  | 'multiline';

export type TextProblemCode =
  'ill_formed' | 'control' | 'newline' | 'bidi' | 'zero_width' | 'empty' | 'too_long';

export interface TextProblem {
  code: TextProblemCode;
  /** English, for the API's `errors[].message`. */
  message: string;
  /** Chinese, for people fixing a spreadsheet (the CLI's roster import). */
  messageZh: string;
}

export interface TextRule {
  kind: TextKind;
  /** Most code points after trimming and NFC. */
  max: number;
  /** Fewest code points after trimming and NFC (default 1). */
  min?: number;
}

/** A surrogate not in a pair (with the `u` flag a pair is one code point and does not match). */
const LONE_SURROGATE_RE = /\p{Cs}/u;
/** C0 and C1 control characters and DEL (Unicode general category Cc). */
const CONTROL_RE = /\p{Cc}/u;
/** Line breaks: CR, LF, and the Unicode line and paragraph separators. */
const NEWLINE_RE = /[\r\n\u2028\u2029]/;
/** Controls other than the line feed (allowed in multi-line text after CRLF → LF). */
const CONTROL_BUT_LF_RE = /(?!\n)\p{Cc}/u;
/** Bidirectional embeddings, overrides and isolates (LRE…RLO, LRI…PDI). */
export const BIDI_CONTROL_RE = /[\u202a-\u202e\u2066-\u2069]/;
/**
 * Zero-width and invisible formatting characters refused in names and codes: ZWSP, ZWNJ, ZWJ,
 * LRM, RLM, ALM, word joiner and invisible operators, BOM/ZWNBSP, soft hyphen, Mongolian vowel
 * separator, combining grapheme joiner.
 */
const ZERO_WIDTH_RE = /[\u200b-\u200f\u061c\u2060-\u2064\ufeff\u00ad\u180e]|\u034f/;

/** True when the string is well-formed UTF-16 (no lone surrogate), so UTF-8 can carry it unchanged. */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE_RE.test(s);
}

/** Code points in a string (what the length limits count). */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const problem = (code: TextProblemCode, message: string, messageZh: string): TextProblem => ({
  code,
  message,
  messageZh,
});

/** The first character of the normalised value that its kind refuses (T1), if any. */
function characterProblem(value: string, kind: TextKind): TextProblem | undefined {
  if ((kind === 'multiline' ? CONTROL_BUT_LF_RE : CONTROL_RE).test(value)) {
    const isBreak = kind !== 'multiline' && NEWLINE_RE.test(value);
    return isBreak
      ? problem('newline', 'must be one line (no line breaks)', '只能是一行，不能换行')
      : problem('control', 'must not contain control characters', '不能含控制字符');
  }
  if (kind !== 'multiline' && NEWLINE_RE.test(value))
    return problem('newline', 'must be one line (no line breaks)', '只能是一行，不能换行');
  if (BIDI_CONTROL_RE.test(value)) {
    return problem(
      'bidi',
      'must not contain bidirectional override or isolate characters (U+202A–U+202E, U+2066–U+2069)',
      '不能含改变文字方向的控制字符',
    );
  }
  if (kind === 'name' && ZERO_WIDTH_RE.test(value)) {
    return problem(
      'zero_width',
      'must not contain zero-width or invisible characters',
      '不能含零宽或不可见字符',
    );
  }
  return undefined;
}

/** The normalised value's length against the rule, in code points. */
function lengthProblem(value: string, rule: TextRule): TextProblem | undefined {
  const length = codePointLength(value);
  const min = rule.min ?? 1;
  if (length < min) {
    return min === 1
      ? problem('empty', 'must not be empty', '不能为空')
      : problem('empty', `at least ${min} characters (Unicode code points)`, `至少 ${min} 个字`);
  }
  if (length > rule.max) {
    return problem(
      'too_long',
      `at most ${rule.max} characters (Unicode code points); this has ${length}`,
      `最多 ${rule.max} 个字（本项有 ${length} 个）`,
    );
  }
  return undefined;
}

/**
 * Checks and normalises one piece of text (T1): trims it, turns CRLF into LF in multi-line text,
 * normalises to NFC, and returns the value to store, or the first problem found.
 */
export function checkText(
  raw: string,
  rule: TextRule,
): { value: string } | { problem: TextProblem } {
  if (!isWellFormed(raw)) {
    return {
      problem: problem(
        'ill_formed',
        'must be well-formed Unicode (no lone surrogate)',
        '含有无效的 Unicode 字符（孤立代理项）',
      ),
    };
  }
  let value = raw.trim();
  if (rule.kind === 'multiline') value = value.replace(/\r\n?/g, '\n');
  value = value.normalize('NFC');
  const found = characterProblem(value, rule.kind) ?? lengthProblem(value, rule);
  return found ? { problem: found } : { value };
}

/**
 * What every string anywhere in a request body must be, whatever its field (T1's floor):
 * well-formed, without control characters other than tab-free line breaks, and without
 * bidirectional overrides. Returns a message, or undefined when the string passes.
 */
export function bodyStringProblem(s: string): string | undefined {
  if (!isWellFormed(s)) return 'must be well-formed Unicode (no lone surrogate)';
  if (s.includes('\u0000')) return 'must not contain NUL characters';
  if (/(?![\r\n])\p{Cc}/u.test(s)) return 'must not contain control characters';
  if (BIDI_CONTROL_RE.test(s))
    return 'must not contain bidirectional override or isolate characters';
  return undefined;
}

/** T3: a string that the database stores and returns unchanged (UTF-8, and no NUL for PostgreSQL). */
export function isStorableText(s: string): boolean {
  return isWellFormed(s) && !s.includes('\u0000');
}

const graphemeSegmenter = new Intl.Segmenter('zh', { granularity: 'grapheme' });

/** The grapheme clusters of a string: what a reader counts as characters (T2). */
export function graphemes(s: string): string[] {
  return Array.from(graphemeSegmenter.segment(s), (x) => x.segment);
}

/**
 * Cuts text the service built to at most `max` code points, between grapheme clusters (T2),
 * ending with `ellipsis` when anything was cut. Text already short enough is returned as is.
 */
export function cutText(s: string, max: number, ellipsis = '…'): string {
  if (codePointLength(s) <= max) return s;
  const room = max - codePointLength(ellipsis);
  let out = '';
  let used = 0;
  for (const g of graphemes(s)) {
    const n = codePointLength(g);
    if (used + n > room) break;
    out += g;
    used += n;
  }
  return out + ellipsis;
}
