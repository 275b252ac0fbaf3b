/**
 * A household's printable statement (积分对账单): one self-contained HTML page in Simplified
 * Chinese with every entry of its chain, the reason of each, the balances after each, the
 * village, the card number masked, and when it was generated, in Beijing time.
 *
 * Invariants:
 * - Everything that comes from data (names, reasons, rule codes, ids) is HTML-escaped where it is
 *   written, by `esc`, and the page carries no script at all: its own Content-Security-Policy
 *   (a meta tag, so it holds also when a web page shows it from a blob or an iframe's srcdoc)
 *   allows inline styles and nothing else. A name such as `<script>` is shown, never run.
 * - The page needs nothing beyond its own bytes (no external style, font or image), so a web
 *   page that fetched it with a bearer token can show and print it as it is.
 * - The entries are read from the chain itself, in order, all of them; the balances shown are
 *   the chain's, and the last entry's hash is printed so the paper can be checked against the
 *   chain later (see the README: Checking a chain yourself).
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../../platform/principal';
import { getAccount, listEntries, type EntryView } from '../ledger/ledger.service';
import { findVillage } from '../villages/villages.service';
import { householdInReach } from './households.service';

/** Entries read per page while building a statement. */
const STATEMENT_PAGE = 500;

/** What a statement shows. */
export interface StatementInput {
  householdId: string;
  head: string;
  cardNo: string;
  village: { name: string; township: string; county: string } | undefined;
  spendable: number;
  merit: number;
  headHash: string;
  entries: readonly EntryView[];
  generatedAt: Date;
}

/** Asia/Shanghai is UTC+8 all year. */
const BEIJING_OFFSET_MS = 8 * 3_600_000;

/** `YYYY-MM-DD HH:mm` in Beijing time. */
export function beijingTime(at: Date | string): string {
  return new Date(new Date(at).getTime() + BEIJING_OFFSET_MS)
    .toISOString()
    .slice(0, 16)
    .replace('T', ' ');
}

/** HTML-escapes text for element content and quoted attribute values. */
export function esc(text: string | number): string {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** The card number with all but its last four characters hidden (whole characters). */
export function maskCardNo(cardNo: string): string {
  const chars = Array.from(cardNo);
  const shown = Math.min(4, Math.max(0, chars.length - 2));
  return '*'.repeat(chars.length - shown) + chars.slice(chars.length - shown).join('');
}

const TYPE_NAMES: Record<EntryView['type'], string> = {
  award: '奖励',
  deduction: '扣分',
  redemption: '兑换',
  reversal: '撤销',
  adjustment: '调整',
  expiry: '过期',
};

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

function entryRow(e: EntryView): string {
  const reason = e.reason ?? (e.ruleCode ? `规则 ${e.ruleCode}` : '—');
  return `<tr><td class="num">${e.seq}</td><td class="time">${esc(beijingTime(e.createdAt))}</td><td>${esc(TYPE_NAMES[e.type] ?? e.type)}</td><td class="num">${esc(signed(e.points))}</td><td class="num">${e.spendableAfter}</td><td class="num">${e.meritAfter}</td><td class="reason">${esc(reason)}</td></tr>`;
}

const STYLE = `
:root { color: #1a1a1a; background: #fff; }
body { margin: 0; font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; font-size: 16px; line-height: 1.5; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.125rem; margin: 1.25rem 0 .5rem; }
.place { margin: 0; color: #404040; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dt { color: #404040; }
dd { margin: 0; }
.balances { display: flex; flex-wrap: wrap; gap: 1rem; }
.balance { margin: 0; border: 1px solid #767676; border-radius: .25rem; padding: .5rem 1rem; min-width: 10rem; }
.balance strong { display: block; font-size: 1.5rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; min-width: 46rem; font-size: .9375rem; }
caption { text-align: left; color: #404040; padding-bottom: .25rem; }
th, td { border: 1px solid #767676; padding: .25rem .5rem; vertical-align: top; }
th { background: #f0f0f0; text-align: left; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.time { white-space: nowrap; }
.reason { min-width: 12rem; overflow-wrap: anywhere; }
.hash { font-family: monospace; overflow-wrap: anywhere; }
.hint { color: #404040; }
footer { margin-top: 1.5rem; font-size: .875rem; color: #404040; }
@media print {
  @page { size: A4; margin: 12mm; }
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  .hint { display: none; }
  .table-wrap { overflow: visible; }
  table { min-width: 0; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  .balance { border-color: #000; }
  th, td { border-color: #000; }
}
`;

/**
 * The CSP source of the statement's one inline stylesheet, admitted by its hash by the page's own
 * policy and by the web UI's: the pages (/app) open the statement from a blob: URL, and a blob:
 * document keeps the policy of the page that made it (platform/web.ts admits this exact
 * stylesheet and no other inline style).
 */
export const STATEMENT_STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`;

/** The page's own policy: its one stylesheet, nothing else (no script, no request). */
export const STATEMENT_CSP = `default-src 'none'; style-src ${STATEMENT_STYLE_HASH}; base-uri 'none'; form-action 'none'`;

/** Renders the statement page (the whole document). */
export function renderStatementHtml(s: StatementInput): string {
  const place = s.village ? `${s.village.county} ${s.village.township} ${s.village.name}` : '';
  const generated = `${beijingTime(s.generatedAt)}（北京时间）`;
  const rows = s.entries.map(entryRow).join('\n');
  const empty = s.entries.length ? '' : '<tr><td colspan="7">暂无积分记录</td></tr>';
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(STATEMENT_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>道德积分对账单 · ${esc(s.head)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>道德积分对账单</h1>
<p class="place">${esc(place)}</p>
</header>
<section aria-labelledby="info">
<h2 id="info">户主信息</h2>
<dl>
<dt>户主</dt><dd>${esc(s.head)}</dd>
<dt>所在村</dt><dd>${esc(s.village?.name ?? '')}</dd>
<dt>积分卡号</dt><dd>${esc(maskCardNo(s.cardNo))}</dd>
<dt>生成时间</dt><dd>${esc(generated)}</dd>
</dl>
</section>
<section aria-labelledby="balances">
<h2 id="balances">当前余额</h2>
<div class="balances">
<p class="balance">可用积分（可在公益超市兑换）<strong>${s.spendable}</strong></p>
<p class="balance">累计积分（所获积分，兑换不减少）<strong>${s.merit}</strong></p>
</div>
</section>
<section aria-labelledby="entries">
<h2 id="entries">积分明细（共${s.entries.length}条）</h2>
<p class="hint">如需打印，请使用浏览器的“打印”功能。</p>
<div class="table-wrap" role="region" aria-labelledby="entries" tabindex="0">
<table>
<caption>按记账先后排列，时间为北京时间</caption>
<thead><tr><th scope="col">序号</th><th scope="col">记账时间</th><th scope="col">类型</th><th scope="col">积分</th><th scope="col">可用积分余额</th><th scope="col">累计积分余额</th><th scope="col">事由</th></tr></thead>
<tbody>
${rows}${empty}
</tbody>
</table>
</div>
</section>
<footer>
<p>本对账单由道德储蓄积分系统根据本户积分账链生成，账链中的记录不可修改或删除，如有更正均另记一条。</p>
<p>账链末条记录校验值（SHA-256）：<span class="hash">${esc(s.headHash)}</span></p>
</footer>
</main>
</body>
</html>
`;
}

/** The statement of a household the principal may see (else `not_found`), as an HTML page. */
export async function householdStatement(
  p: Principal,
  householdId: string,
  now = new Date(),
): Promise<string> {
  const h = await householdInReach(p, householdId);
  const entries: EntryView[] = [];
  for (let after = 0; ;) {
    const page = await listEntries(householdId, after, STATEMENT_PAGE);
    entries.push(...page.items);
    if (page.next === null) break;
    after = page.next;
  }
  // The balances are the last entry read, so the totals always match the rows shown.
  const last = entries[entries.length - 1];
  const account = last ? undefined : await getAccount(householdId);
  const village = await findVillage(h.villageId);
  return renderStatementHtml({
    householdId,
    head: h.head,
    cardNo: h.cardNo,
    village: village
      ? { name: village.name, township: village.township, county: village.county }
      : undefined,
    spendable: last?.spendableAfter ?? account!.spendable,
    merit: last?.meritAfter ?? account!.merit,
    headHash: last?.hash ?? account!.head.hash,
    entries,
    generatedAt: now,
  });
}
