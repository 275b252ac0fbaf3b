/**
 * The counter printer's receipt: plain text, 32 columns (a 58 mm thermal printer), in Chinese.
 * A CJK (full-width) character takes two columns, so widths are counted, not string lengths;
 * every line this module renders is at most RECEIPT_WIDTH columns wide. Text is cut and wrapped
 * between grapheme clusters only (an emoji sequence or a letter with its accents stays whole).
 * Times are shown in Asia/Shanghai (UTC+8, no daylight saving), the villages' clock.
 */
import { graphemes } from '../../platform/text';

export const RECEIPT_WIDTH = 32;
/** Asia/Shanghai is UTC+8 all year. */
export const SHANGHAI_OFFSET_MS = 8 * 60 * 60 * 1000;

/** The calendar day (YYYY-MM-DD) of an instant in Asia/Shanghai. */
export function shanghaiDay(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** `YYYY-MM-DD HH:mm:ss` in Asia/Shanghai. */
export function shanghaiTime(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** Columns a code point takes on the printer: 2 for East Asian wide/full-width, 0 for combining marks. */
function codePointWidth(cp: number): number {
  if (cp === 0 || cp < 32 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || cp === 0xfe0f) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f1e6 && cp <= 0x1f1ff) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

/**
 * Columns a grapheme cluster takes: its widest code point (an emoji ZWJ sequence or a flag is
 * one wide glyph; a letter with combining marks is as wide as the letter).
 */
function clusterWidth(cluster: string): number {
  let w = 0;
  for (const ch of cluster) w = Math.max(w, codePointWidth(ch.codePointAt(0)!));
  return w;
}

/** Display width of a string in printer columns. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const g of graphemes(s)) w += clusterWidth(g);
  return w;
}

/** Cuts a string to at most `width` columns, between grapheme clusters (never inside one). */
export function truncateToWidth(s: string, width: number): string {
  let out = '';
  let w = 0;
  for (const g of graphemes(s)) {
    const cw = clusterWidth(g);
    if (w + cw > width) break;
    out += g;
    w += cw;
  }
  return out;
}

/** Splits a string into lines of at most `width` columns. */
export function wrapToWidth(s: string, width: number): string[] {
  const lines: string[] = [];
  let rest = s;
  while (displayWidth(rest) > width) {
    // A cluster wider than the whole line gets a line of its own rather than none.
    const head = truncateToWidth(rest, width) || graphemes(rest)[0]!;
    lines.push(head);
    rest = rest.slice(head.length);
  }
  if (rest.length || !lines.length) lines.push(rest);
  return lines;
}

const padEnd = (s: string, width: number) => s + ' '.repeat(Math.max(0, width - displayWidth(s)));
const padStart = (s: string, width: number) => ' '.repeat(Math.max(0, width - displayWidth(s))) + s;

/** `left` and `right` on one line, right-aligned to the receipt width (left cut if needed). */
function spread(left: string, right: string): string {
  const room = RECEIPT_WIDTH - displayWidth(right) - 1;
  const l = truncateToWidth(left, Math.max(0, room));
  return padEnd(l, RECEIPT_WIDTH - displayWidth(right)) + right;
}

function center(s: string): string {
  const t = truncateToWidth(s, RECEIPT_WIDTH);
  return ' '.repeat(Math.floor((RECEIPT_WIDTH - displayWidth(t)) / 2)) + t;
}

export interface ReceiptInput {
  receiptNo: string;
  storeName: string;
  cardNo: string;
  terminalId: string;
  occurredAt: Date;
  offline: boolean;
  items: { name: string; qty: number; points: number }[];
  points: number;
  spendableAfter: number;
  reversedAt?: Date;
}

/** Shows only the last four characters of a card number: a lost receipt must not give a card away. */
export function maskCard(cardNo: string): string {
  return cardNo.length <= 4
    ? cardNo
    : `${'*'.repeat(Math.min(8, cardNo.length - 4))}${cardNo.slice(-4)}`;
}

/** Renders the receipt; lines end with \n, each at most RECEIPT_WIDTH columns. */
export function renderReceipt(r: ReceiptInput): string {
  const rule = '-'.repeat(RECEIPT_WIDTH);
  const lines: string[] = [];
  lines.push(center(r.storeName));
  lines.push(center('文明实践积分兑换凭条'));
  lines.push(rule);
  lines.push(...wrapToWidth(`单号：${r.receiptNo}`, RECEIPT_WIDTH));
  lines.push(`时间：${shanghaiTime(r.occurredAt)}${r.offline ? '(离线)' : ''}`);
  lines.push(`卡号：${maskCard(r.cardNo)}`);
  lines.push(...wrapToWidth(`终端：${r.terminalId}`, RECEIPT_WIDTH));
  lines.push(rule);
  // Columns: name (left, wrapped), quantity and points right-aligned in the last 14 columns.
  const QTY_W = 6;
  const PTS_W = 8;
  const NAME_W = RECEIPT_WIDTH - QTY_W - PTS_W;
  lines.push(padEnd('商品', NAME_W) + padStart('数量', QTY_W) + padStart('积分', PTS_W));
  for (const item of r.items) {
    const nameLines = wrapToWidth(item.name, NAME_W - 1);
    const qty = `x${item.qty}`;
    const pts = String(item.points);
    if (qty.length < QTY_W && pts.length < PTS_W) {
      lines.push(padEnd(nameLines[0]!, NAME_W) + padStart(qty, QTY_W) + padStart(pts, PTS_W));
      lines.push(...nameLines.slice(1));
    } else {
      // A number is never cut: too wide for its column, it gets a line of its own.
      lines.push(...nameLines, spread('', `${qty} ${pts}`));
    }
  }
  lines.push(rule);
  lines.push(spread('合计扣减积分', String(r.points)));
  lines.push(spread('兑换后可用积分', String(r.spendableAfter)));
  if (r.reversedAt) {
    lines.push(rule);
    lines.push(spread('本单已撤销', shanghaiTime(r.reversedAt).slice(5, 16)));
    lines.push('积分与商品已退回');
  }
  lines.push('='.repeat(RECEIPT_WIDTH));
  lines.push(center('积分来自善行，感谢您的付出'));
  lines.push(center('请妥善保管此凭条'));
  return lines.map((l) => l.replace(/\s+$/, '')).join('\n') + '\n';
}
