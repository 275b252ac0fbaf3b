/**
 * The village station's screen (大屏) in a real browser: a clerk creates a board link on
 * 大屏链接, the screen opens it once and then shows the red and black lists with nobody signed
 * in, keeps the secret out of its address bar, refreshes by itself, and stops once the clerk
 * revokes the link. Accessibility (axe) and screenshots at 360 and 1280 px on every state.
 */
import { expect } from '../support/expect';
import { approve, file, makeCouncilScene, type CouncilScene } from '../modules/submissions/scene';
import { newDevice, review, signIn, startHarness, stopHarness, url, type Harness } from './browser';

describe('pages: the village station screen (大屏链接)', function () {
  this.timeout(120_000);
  let h: Harness;
  let s: CouncilScene;

  before(async function () {
    h = await startHarness();
    s = await makeCouncilScene({ quorum: 1, noticePeriod: 'PT0S', rule: { points: 10 } });
    const posted = await approve(s, (await file(s, { householdId: s.households[1]!.id })).id, 1);
    expect(posted.status).to.equal('posted');
  });

  after(async function () {
    await stopHarness();
  });

  afterEach(function () {
    expect(h.cspViolations, 'Content-Security-Policy violations').to.deep.equal([]);
    expect(h.pageErrors, 'uncaught page errors').to.deep.equal([]);
  });

  it('a clerk makes a link, the screen shows the lists without a sign-in and refreshes by itself; a revoked link stops it at its next refresh', async () => {
    const clerk = await newDevice();
    await signIn(clerk.page, s.clerk.username, s.clerk.password);
    await clerk.page.getByRole('link', { name: '大屏链接' }).click();
    await clerk.page.getByLabel('屏幕位置').fill('村部大厅');
    await clerk.page.getByRole('button', { name: '生成链接' }).click();
    const link = await clerk.page.getByLabel('大屏链接', { exact: true }).inputValue();
    expect(link).to.match(/\/app\/display#[A-Za-z0-9_-]{43}$/);
    await clerk.page.locator('li.board-link', { hasText: '村部大厅' }).waitFor();
    await review(clerk.page, 'screens');

    // The station screen: a browser of its own, nobody signed in.
    const screen = await newDevice();
    await screen.page.clock.install();
    await screen.page.goto(link);
    await screen.page.locator('.board .red li', { hasText: '李*' }).waitFor();
    expect(await screen.page.locator('input[name=password]').count()).to.equal(0);
    expect(await screen.page.evaluate('location.hash')).to.equal('');
    expect(await screen.page.evaluate('location.pathname')).to.equal('/app/display');
    expect(await screen.page.locator('.board h1').innerText()).to.contain('道德红黑榜');
    await review(screen.page, 'display');

    // Reopened later (a power cut): the link kept in the browser opens it again.
    await screen.page.goto(url('/app/display'));
    await screen.page.locator('.board .red li', { hasText: '李*' }).waitFor();

    // The clerk revokes it; the screen stops at its next minute's refresh, with no sign-in form.
    await clerk.page.getByRole('button', { name: '撤销“村部大厅”的大屏链接' }).click();
    await clerk.page.getByRole('button', { name: '确定撤销' }).click();
    await clerk.page.locator('li.board-link', { hasText: '已撤销' }).waitFor();
    await screen.page.clock.fastForward(61_000);
    await screen.page.getByRole('alert').filter({ hasText: '已失效' }).waitFor();
    expect(await screen.page.locator('.board .red').count()).to.equal(0);
    expect(await screen.page.locator('input[name=password]').count()).to.equal(0);
    await review(screen.page, 'display-revoked');
    await clerk.context.close();
    await screen.context.close();
  });

  it('a screen with no link says how to get one', async () => {
    const { page, context } = await newDevice(360);
    await page.goto(url('/app/display'));
    await page.getByRole('alert').filter({ hasText: '还没有大屏链接' }).waitFor();
    await review(page, 'display-no-link');
    await context.close();
  });
});
