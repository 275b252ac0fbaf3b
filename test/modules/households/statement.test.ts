/**
 * GET /v1/households/:id/statement: the household's printable statement (积分对账单). A Chinese
 * HTML page with every entry, its reason and the balances after it, the village, the masked card
 * and the generation time in Beijing time; every text from data escaped; no script. Checked as
 * text, and in a real browser (Debian's chromium through playwright-core): shown from a fetch
 * with the bearer token the way a web page does it, nothing runs, axe-core finds no serious
 * violation, screenshots at 360 and 1280 px, and it prints to PDF with its print styles.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { Types } from 'mongoose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ctx } from '../../support/context';
import { SCREENSHOTS } from '../../web/browser';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeHousehold,
  makeUser,
  makeVillage,
  verifyChainViaApi,
  type TestUser,
} from '../../support/factories';
import { postEntry } from '../../../src/modules/ledger/ledger.service';
import { beijingTime, esc, maskCardNo } from '../../../src/modules/households/statement';

const HOSTILE_HEAD = '王<script>window.__xss=1;alert(1)</script>五';
const HOSTILE_REASON = '见义勇为<img src=x onerror="window.__xss=2">“救人”&amp; \'引号\'';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('GET /v1/households/:id/statement', () => {
  let admin: TestUser;
  let member: TestUser;
  let householdId: string;
  let cardNo: string;

  before(async () => {
    admin = await makeAdmin();
    const village = await makeVillage({ name: '红星村' });
    const h = await makeHousehold(village.id, {
      head: HOSTILE_HEAD,
      cardNo: `HX-${Date.now().toString(36).toUpperCase()}-0427`,
    });
    householdId = h.id;
    cardNo = h.cardNo;
    member = await makeUser('household', { householdId });
    const source = () => ({ type: 'test', id: new Types.ObjectId().toHexString() });
    await postEntry({
      householdId,
      type: 'award',
      points: 30,
      spendableDelta: 30,
      meritDelta: 30,
      shortfall: 'clamp',
      source: source(),
      ruleCode: 'heroic-deed',
      reason: HOSTILE_REASON,
    });
    await postEntry({
      householdId,
      type: 'redemption',
      points: -12,
      spendableDelta: -12,
      meritDelta: 0,
      shortfall: 'reject',
      source: source(),
      reason: '积分兑换：大米×1、肥皂×1',
    });
    await postEntry({
      householdId,
      type: 'deduction',
      points: -5,
      spendableDelta: -5,
      meritDelta: -5,
      shortfall: 'clamp',
      source: source(),
      ruleCode: 'gambling',
    });
    const adj = await http()
      .post(`/v1/households/${householdId}/adjustments`)
      .set(admin.auth)
      .send({ points: 7, reason: '更正：2026年3月志愿服务漏记' });
    expect(adj.status, adj.text).to.equal(201);
  });

  it('is a Chinese HTML page with every entry, its reason and the balances after it, the village, the masked card and the time in Beijing time', async () => {
    const before = Date.now();
    const res = await http().get(`/v1/households/${householdId}/statement`).set(member.auth);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.headers['content-security-policy']).to.include("default-src 'none'");
    const html = res.text;
    expect(html).to.match(/^<!doctype html>\n<html lang="zh-CN">/);
    expect(html)
      .to.include('道德积分对账单')
      .and.include('红星村')
      .and.include('测试县 测试镇 红星村');
    expect(html).to.include(maskCardNo(cardNo)).and.not.include(cardNo);
    expect(maskCardNo(cardNo)).to.match(/^\*+0427$/);
    // Generated now, shown in Beijing time (the minute of the request or the next).
    const stamps = [before, Date.now()].map((t) => beijingTime(new Date(t)));
    expect(
      stamps.some((s) => html.includes(`${s}（北京时间）`)),
      stamps.join(),
    ).to.equal(true);
    const entries = await verifyChainViaApi(householdId, admin.auth);
    expect(entries).to.have.length(4);
    for (const e of entries) {
      const reason = (e.reason as string | undefined) ?? `规则 ${e.ruleCode as string}`;
      const row = `<tr><td class="num">${e.seq}</td><td class="time">${beijingTime(e.createdAt as string)}</td>`;
      expect(html, `row ${e.seq}`).to.include(row);
      expect(html).to.include(`<td class="reason">${esc(reason)}</td>`);
      expect(html).to.include(
        `<td class="num">${e.spendableAfter}</td><td class="num">${e.meritAfter}</td>`,
      );
    }
    expect(html)
      .to.include('<td>奖励</td><td class="num">+30</td>')
      .and.include('<td>兑换</td><td class="num">-12</td>');
    expect(html)
      .to.include('<td>扣分</td><td class="num">-5</td>')
      .and.include('<td>调整</td><td class="num">+7</td>');
    expect(html)
      .to.include('可用积分（可在公益超市兑换）<strong>20</strong>')
      .and.include('累计积分（所获积分，兑换不减少）<strong>32</strong>');
    expect(html).to.include(entries[3]!.hash as string);
    expect(html).to.include('积分明细（共4条）');
  });

  it('escapes every text that comes from data and carries no script: a name or reason with HTML is shown as text', async () => {
    const html = (await http().get(`/v1/households/${householdId}/statement`).set(admin.auth)).text;
    expect(html).to.not.match(/<script/i);
    expect(html).to.not.include('<img');
    expect(html).to.include('王&lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt;五');
    expect(html).to.include(
      '见义勇为&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;“救人”&amp;amp; &#39;引号&#39;',
    );
    expect(esc(`<a href="x" title='y'>&</a>`)).to.equal(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });

  it('answers only those who may read the household: its clerk and the county office yes; another household or village 404; no token 401', async () => {
    const village = await makeVillage();
    const other = await makeUser('household', {
      householdId: (await makeHousehold(village.id)).id,
    });
    const otherClerk = await makeUser('clerk', { villageId: village.id });
    expect(
      (await http().get(`/v1/households/${householdId}/statement`).set(admin.auth)).status,
    ).to.equal(200);
    for (const who of [other, otherClerk]) {
      const res = await http().get(`/v1/households/${householdId}/statement`).set(who.auth);
      expect(res.status, who.user.role).to.equal(404);
      expect(res.headers['content-type']).to.match(/application\/problem\+json/);
    }
    expect(
      (
        await http()
          .get(`/v1/households/${new Types.ObjectId().toHexString()}/statement`)
          .set(admin.auth)
      ).status,
    ).to.equal(404);
    expect((await http().get(`/v1/households/${householdId}/statement`)).status).to.equal(401);
    const empty = await makeHousehold(village.id, { head: '李四' });
    const blank = await http().get(`/v1/households/${empty.id}/statement`).set(admin.auth);
    expect(blank.text).to.include('暂无积分记录').and.include('<strong>0</strong>');
  });

  describe('in a real browser (chromium)', () => {
    let server: Server;
    let browser: Browser;
    let base: string;

    before(async function () {
      this.timeout(60_000);
      server = await new Promise((resolve) => {
        const s = ctx().app.listen(0, '127.0.0.1', () => resolve(s));
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-dev-shm-usage',
        ],
      });
      mkdirSync(SCREENSHOTS, { recursive: true });
    });
    after(async () => {
      await browser?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    });

    /** Opens the statement the way a web page does: fetch with the bearer token, show the HTML from a blob URL. */
    async function openLikeTheWebUi(
      width: number,
    ): Promise<{ page: Page; dialogs: string[]; errors: string[] }> {
      const context = await browser.newContext({
        viewport: { width, height: 900 },
        locale: 'zh-CN',
      });
      const page = await context.newPage();
      const dialogs: string[] = [];
      const errors: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      page.on('pageerror', (e) => errors.push(e.message));
      // From a page under /app, as the household page does: a blob: document keeps the CSP of
      // the page that made it, and the pages' CSP admits the statement's stylesheet by its hash
      // (an API answer's CSP admits no inline style: from /healthz the statement lost its styles).
      // `networkidle`: the page has settled (a redirect of its own would destroy the context the
      // fetch below runs in).
      await page.goto(`${base}/app/`, { waitUntil: 'networkidle' });
      // Browser code as text: the tests compile without the DOM library.
      const url = JSON.stringify(`${base}/v1/households/${householdId}/statement`);
      const blobUrl = (await page.evaluate(`(async () => {
        const res = await fetch(${url}, { headers: { Authorization: 'Bearer ${member.token}' } });
        return URL.createObjectURL(await res.blob());
      })()`)) as string;
      // The page navigates itself, after the evaluate has returned (a navigation inside it
      // destroyed the context it was answering from: a flaky "Execution context was destroyed").
      await Promise.all([
        page.waitForURL((u) => u.protocol === 'blob:'),
        page.evaluate(`setTimeout(() => { location.href = ${JSON.stringify(blobUrl)}; }, 0)`),
      ]);
      await page.waitForSelector('h1');
      return { page, dialogs, errors };
    }

    it('shown from a fetch with the bearer token, nothing in it runs; axe-core finds no serious violation; screenshots at 360 and 1280 px', async function () {
      this.timeout(60_000);
      for (const width of [360, 1280]) {
        const { page, dialogs, errors } = await openLikeTheWebUi(width);
        expect(await page.title()).to.equal(`道德积分对账单 · ${HOSTILE_HEAD}`);
        expect(await page.locator('dd').first().textContent()).to.equal(HOSTILE_HEAD);
        expect(await page.locator('td.reason').first().textContent()).to.equal(HOSTILE_REASON);
        expect(await page.locator('tbody tr').count()).to.equal(4);
        expect(await page.evaluate('typeof window.__xss')).to.equal('undefined');
        expect(await page.evaluate('document.scripts.length')).to.equal(0);
        expect(dialogs).to.deep.equal([]);
        expect(errors).to.deep.equal([]);
        // axe is evaluated through the DevTools protocol, which the page's CSP does not govern.
        await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
        const violations = (await page.evaluate(
          `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact })))`,
        )) as { id: string; impact: string }[];
        expect(
          violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => v.id),
          `axe at ${width} px`,
        ).to.deep.equal([]);
        // Nothing is wider than the screen but the table, which scrolls inside its own region.
        expect(
          await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'),
        ).to.equal(true);
        const shot = await page.screenshot({
          path: path.join(SCREENSHOTS, `statement-${width}.png`),
          fullPage: true,
        });
        expect(shot.length).to.be.greaterThan(5000);
        await page.context().close();
      }
    });

    it('prints: the print styles hide the screen hint, and the page renders to an A4 PDF', async function () {
      this.timeout(60_000);
      const { page } = await openLikeTheWebUi(1280);
      expect(await page.locator('.hint').isVisible()).to.equal(true);
      await page.emulateMedia({ media: 'print' });
      expect(await page.locator('.hint').isVisible()).to.equal(false);
      const pdf = await page.pdf({
        preferCSSPageSize: true,
        path: path.join(SCREENSHOTS, 'statement.pdf'),
      });
      expect(pdf.subarray(0, 5).toString()).to.equal('%PDF-');
      expect(pdf.length).to.be.greaterThan(10_000);
      await page.context().close();
    });
  });
});
