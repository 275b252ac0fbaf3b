/**
 * The browser side of the page tests: one Debian chromium for the whole run (playwright-core,
 * no browser download), the service listening on a real port with its workers, screenshots at
 * 360 and 1280 px into test-artifacts/screenshots, and axe-core run inside each page.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ctx } from '../support/context';
import { expect } from '../support/expect';
import { runWorkers, type RunningWorkers } from '../../workers/runner';
import { allJobs } from '../../workers/registry';

export const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts');
export const SCREENSHOTS = path.join(ARTIFACTS, 'screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a headless run on a CI machine with no network but the loopback. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface Harness {
  browser: Browser;
  base: string;
  server: Server;
  workers: RunningWorkers;
  /** Content-Security-Policy violations any page reported (there must be none). */
  cspViolations: string[];
  /** Uncaught errors in any page (there must be none). */
  pageErrors: string[];
}

let harness: Harness | undefined;

export async function startHarness(): Promise<Harness> {
  // The pages are built by tools/bootstrap.mjs before `npm test`; build them here when a single
  // file is run with npx mocha and the build is missing or stale.
  const { buildWeb, webBuildStale } = await import('../../web/build.mjs');
  if (webBuildStale()) await buildWeb();
  mkdirSync(SCREENSHOTS, { recursive: true });
  const c = ctx();
  const server: Server = await new Promise((resolve) => {
    const s = c.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const workers = await runWorkers(
    allJobs({ redis: c.redis, redisPrefix: c.config.redisPrefix, config: c.config }),
    { redisUrl: c.redisUrl, redisPrefix: c.config.redisPrefix, logger: c.logger },
  );
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  harness = {
    browser,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    workers,
    cspViolations: [],
    pageErrors: [],
  };
  return harness;
}

export async function stopHarness(): Promise<void> {
  if (!harness) return;
  const h = harness;
  harness = undefined;
  // Each step is bounded: on a loaded machine a browser or a worker's job in progress can take
  // longer than the hook's timeout to stop (seen once: 60 s), and nothing later depends on it.
  await bounded('closing the browser', h.browser.close());
  await bounded('closing the workers', h.workers.close());
  await bounded(
    'closing the server',
    new Promise<void>((resolve) => {
      h.server.close(() => resolve());
      h.server.closeAllConnections();
    }),
  );
}

/** Waits for a teardown step at most `ms`, then goes on, saying so on stderr. */
async function bounded(what: string, step: Promise<unknown>, ms = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const outcome = await Promise.race([
    step.then(
      () => 'done',
      () => 'failed',
    ),
    late,
  ]);
  clearTimeout(timer);
  if (outcome === 'late')
    process.stderr.write(`[harness] ${what} did not finish in ${ms} ms; going on\n`);
}

/** A fresh browser context (its own storage, like another device) with CSP and error watchers. */
export async function newDevice(width = 1280): Promise<{ context: BrowserContext; page: Page }> {
  const h = harness!;
  const context = await h.browser.newContext({
    viewport: { width, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) h.cspViolations.push(m.text());
  });
  page.on('pageerror', (err) => h.pageErrors.push(err.message));
  return { context, page };
}

export const url = (p: string) => `${harness!.base}${p}`;

/** Signs a person in through the sign-in page. */
export async function signIn(
  page: Page,
  username: string,
  password: string,
  at = '/app/',
): Promise<void> {
  await page.goto(url(at));
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForSelector('header.top, .board');
}

/** Full-page screenshots at 360 and 1280 px wide, named after the page. */
export async function shoot(page: Page, name: string): Promise<void> {
  const original = page.viewportSize() ?? { width: 1280, height: 900 };
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.waitForTimeout(50);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}

let axeSource: string | undefined;
/** Evaluated in the page (a string: the tests compile without the DOM's types). */
const AXE_RUN =
  "axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })";

/** Counts window.print() calls instead of opening the print dialog (headless has none). */
export const COUNT_PRINTS =
  'window.print = () => { window.__printed = (window.__printed || 0) + 1; };';
export const PRINTED = 'window.__printed || 0';
/** Text of the focused element. */
export const FOCUSED_TEXT = "document.activeElement ? document.activeElement.textContent : ''";

/**
 * Runs axe-core (WCAG 2 A/AA rules) in the page and asserts no serious or critical violation.
 * axe is evaluated through the DevTools protocol, which a page's CSP does not govern, so the
 * page keeps its strict policy while it is checked.
 */
export async function checkA11y(page: Page, name: string): Promise<void> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const result = (await page.evaluate(AXE_RUN)) as {
    violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[];
  };
  const serious = result.violations.filter(
    (v) => v.impact === 'serious' || v.impact === 'critical',
  );
  expect(
    serious.map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    ),
    `axe on ${name}`,
  ).to.deep.equal([]);
}

/** Screenshots and the accessibility check of one page state. */
export async function review(page: Page, name: string): Promise<void> {
  await checkA11y(page, name);
  await shoot(page, name);
}

export function writeArtifact(name: string, content: string): void {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, name), content);
}
