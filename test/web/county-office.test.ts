/**
 * The county office's issue-11 pages in a real browser (Debian's chromium via playwright-core),
 * against the service on a real port, on the real database and Redis:
 * - townships with their villages; a township station's login and a village supervisor's login
 *   made in the browser, each then signing in;
 * - a village's order policy (接单时限, 评单免评议, 时长折算细则, 人情分预警) with Chinese
 *   messages naming each field in error, and nothing saved until it is right;
 * - the service menu: viewing it, adding a category with an item, renaming an item;
 * - the village board's line with the village's place in the monthly 考评指数 ranking;
 * - the hours record's 核验: the browser recomputes the chain's hashes (WebCrypto) and says it
 *   holds, then, with a link altered behind the service's back, names the link that breaks.
 * Every page state is checked by axe-core and photographed at 360 and 1280 px.
 */
import type { Page } from 'playwright-core';
import { expect } from '../support/expect';
import {
  http,
  makeAdmin,
  makeUser,
  makeVillage,
  unique,
  type TestUser,
} from '../support/factories';
import { ensureRanking } from '../../src/modules/rankings/rankings.service';
import { fullLoop, makeServiceScene } from '../modules/service-orders/scene';
import mongoose from 'mongoose';
import type { VillageView } from '../../src/modules/villages/villages.service';
import { newDevice, review, signIn, startHarness, stopHarness, url, type Harness } from './browser';

async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().innerText()).trim();
}

describe('county office pages in a real browser (/app/admin): townships, logins, order policy, service menu', function () {
  this.timeout(180_000);
  let h: Harness;
  let admin: TestUser;
  let village: VillageView;
  let village2: VillageView;
  let elsewhere: VillageView;
  const township = unique('镇');

  before(async function () {
    this.timeout(120_000);
    h = await startHarness();
    admin = await makeAdmin();
    const county = unique('县');
    village = await makeVillage({ name: '上塘村', county, township });
    village2 = await makeVillage({ name: '下塘村', county, township });
    // A second county: the menu page asks which county's menu to edit.
    elsewhere = await makeVillage({ name: '邻县村', county: unique('县'), township: unique('镇') });
  });

  after(async function () {
    this.timeout(60_000);
    await stopHarness();
  });

  afterEach(function () {
    expect(h.cspViolations, 'Content-Security-Policy violations').to.deep.equal([]);
    expect(h.pageErrors, 'uncaught page errors').to.deep.equal([]);
  });

  it('lists the township stations with their villages', async () => {
    const { page, context } = await newDevice();
    await signIn(page, admin.username, admin.password);
    await page.goto(url('/app/admin/townships'));
    const row = page.locator('tr', { hasText: township });
    await row.waitFor();
    // The villages' names come with the village list, which may arrive after the townships (the
    // row says "村" until then): wait for them rather than read the row at once.
    await row.filter({ hasText: '上塘村' }).waitFor();
    expect(await row.innerText())
      .to.contain('上塘村')
      .and.to.contain('下塘村');
    expect(await row.innerText()).to.contain('2 个村');
    await review(page, 'admin-townships');
    await context.close();
  });

  it('makes a township station login and a village supervisor login, who then sign in', async () => {
    const { page, context } = await newDevice(360);
    await signIn(page, admin.username, admin.password);
    await page.goto(url('/app/admin/users'));
    const townshipId = village.townshipId!;
    await page.selectOption('select[name=newRole]', 'township');
    await page.waitForSelector(`select[name=townshipId] option[value="${townshipId}"]`, {
      state: 'attached',
    });
    const tUser = unique('town');
    await page.fill('input[name=username]', tUser);
    await page.fill('input[name=password]', 'township-pass-1');
    await page.getByRole('button', { name: '新建用户' }).click();
    expect(await textOf(page, '.alert-error')).to.contain('乡镇实践所');
    await page.selectOption('select[name=townshipId]', townshipId);
    await page.getByRole('button', { name: '新建用户' }).click();
    await page.waitForSelector('.alert-ok');
    expect(await textOf(page, '.alert-ok')).to.contain(tUser);
    await review(page, 'admin-user-township');

    await page.selectOption('select[name=newRole]', 'supervisor');
    await page.selectOption('select[name=villageId]', village.id);
    const sUser = unique('sup');
    await page.fill('input[name=username]', sUser);
    await page.fill('input[name=password]', 'supervisor-pass-1');
    await page.getByRole('button', { name: '新建用户' }).click();
    await page.locator('.alert-ok', { hasText: sUser }).waitFor();
    await context.close();

    for (const [username, password, role] of [
      [tUser, 'township-pass-1', 'township'],
      [sUser, 'supervisor-pass-1', 'supervisor'],
    ] as const) {
      const res = await http()
        .post('/v1/auth/token')
        .send({ grantType: 'password', username, password });
      expect(res.status, username).to.equal(200);
      const me = await http()
        .get('/v1/me')
        .set({ Authorization: `Bearer ${res.body.accessToken}` });
      expect(me.body.role).to.equal(role);
      if (role === 'township') expect(me.body.townshipId).to.equal(townshipId);
      else expect(me.body.villageId).to.equal(village.id);
    }
  });

  it("sets a village's order policy; wrong values are named in Chinese and nothing is saved", async () => {
    const { page, context } = await newDevice();
    await signIn(page, admin.username, admin.password);
    await page.goto(url('/app/admin'));
    await page.getByRole('button', { name: `修改${village2.name}的规则` }).click();
    const form = page.getByRole('form', { name: `${village2.name}的评议规则` });
    await form.waitFor();
    expect(await form.locator('input[name=orderTimeout]').inputValue()).to.equal('PT48H');
    expect(await form.locator('input[name=hoursRuleCode]').inputValue()).to.equal('volunteer-hour');
    await form.locator('input[name=orderTimeout]').fill('两天');
    await form.locator('input[name=concentrationThreshold]').fill('10');
    await form.locator('input[name=concentrationMinApprovals]').fill('0');
    await form.locator('input[name=hoursRuleCode]').fill('志愿 时长');
    await form.getByRole('button', { name: `保存 ${village2.name}` }).click();
    const alert = await textOf(page, '.alert-error');
    for (const label of ['接单时限', '人情分预警比例', '人情分起算票数', '时长折算积分细则代码'])
      expect(alert).to.contain(label);
    expect(await form.locator('.field .error').count()).to.equal(4);
    expect(await textOf(page, '.field.has-error')).to.contain('PT48H');
    await review(page, 'admin-village-order-policy-errors');
    const before = await http().get(`/v1/villages/${village2.id}`).set(admin.auth);
    expect(before.body.policy.orderTimeout).to.equal(undefined);

    await form.locator('input[name=orderTimeout]').fill('PT24H');
    await form.locator('input[name=concentrationThreshold]').fill('75');
    await form.locator('input[name=concentrationMinApprovals]').fill('8');
    await form.locator('input[name=hoursRuleCode]').fill('volunteer-hour');
    await form.getByLabel('评单后的服务时长不经评议会表决，直接公示').check();
    await form.getByRole('button', { name: `保存 ${village2.name}` }).click();
    await page.waitForSelector('.alert-ok');
    const after = await http().get(`/v1/villages/${village2.id}`).set(admin.auth);
    expect(after.body.policy).to.include({
      orderTimeout: 'PT24H',
      ratedHoursNeedNoVote: true,
      hoursRuleCode: 'volunteer-hour',
      concentrationThreshold: 0.75,
      concentrationMinApprovals: 8,
    });
    await review(page, 'admin-village-order-policy');
    await context.close();
  });

  it('shows the service menu, adds a category with an item, renames an item and removes one after a confirmation', async () => {
    const { page, context } = await newDevice();
    await signIn(page, admin.username, admin.password);
    await page.goto(url('/app/admin/menu'));
    await page.waitForSelector('select[name=countyId]', { state: 'attached' });
    await page.selectOption('select[name=countyId]', village.countyId!);
    await page.waitForSelector('select[name=menuCategory]');
    // Nothing filled: each field says what to do.
    await page.getByRole('button', { name: '保存服务项目' }).click();
    expect(await textOf(page, '.alert-error')).to.contain('类别');
    expect(await page.locator('.field .error').count()).to.equal(3);
    await page.selectOption('select[name=menuCategory]', '__new');
    await page.fill('input[name=newCategoryCode]', 'barber');
    await page.fill('input[name=newCategoryName]', '便民理发');
    await page.fill('input[name=itemCode]', 'barber-01');
    await page.fill('input[name=itemName]', '上门理发');
    await page.getByRole('button', { name: '保存服务项目' }).click();
    await page.waitForSelector('.alert-ok');
    await page.locator('summary', { hasText: '便民理发' }).click();
    await page.locator('li', { hasText: '上门理发' }).waitFor();

    // The same item code again renames it.
    await page.selectOption('select[name=menuCategory]', 'barber');
    await page.fill('input[name=itemCode]', 'barber-01');
    expect(await textOf(page, '.field:has(input[name=itemCode]) .hint')).to.contain('上门理发');
    await page.fill('input[name=itemName]', '上门理发（老人）');
    await page.getByRole('button', { name: '保存服务项目' }).click();
    await page.locator('li', { hasText: '上门理发（老人）' }).waitFor();
    const menu = await http()
      .get('/v1/service-menu')
      .query({ countyId: village.countyId })
      .set(admin.auth);
    expect(menu.body.categories).to.deep.equal([
      {
        code: 'barber',
        name: '便民理发',
        items: [{ code: 'barber-01', name: '上门理发（老人）' }],
      },
    ]);
    await review(page, 'admin-service-menu');

    // A second item, then removing it: a confirmation says what happens; 取消 changes nothing.
    await page.selectOption('select[name=menuCategory]', 'barber');
    await page.fill('input[name=itemCode]', 'barber-02');
    await page.fill('input[name=itemName]', '上门修脚');
    await page.getByRole('button', { name: '保存服务项目' }).click();
    await page.locator('li', { hasText: '上门修脚' }).waitFor();
    await page.getByRole('button', { name: '移除：上门修脚' }).click();
    const confirm = page.getByRole('group', { name: '确认移除服务项目' });
    expect(await confirm.innerText()).to.contain('已下的订单不受影响');
    await review(page, 'admin-service-menu-remove');
    await confirm.getByRole('button', { name: '取消' }).click();
    expect(await confirm.count()).to.equal(0);
    await page.getByRole('button', { name: '移除：上门修脚' }).click();
    await page.getByRole('button', { name: '确定移除' }).click();
    await page.locator('.alert-ok', { hasText: '已从菜单移除“上门修脚”' }).waitFor();
    await page.locator('li', { hasText: '上门修脚' }).waitFor({ state: 'detached' });
    const after = await http()
      .get('/v1/service-menu')
      .query({ countyId: village.countyId })
      .set(admin.auth);
    expect(after.body.categories).to.deep.equal([
      {
        code: 'barber',
        name: '便民理发',
        items: [{ code: 'barber-01', name: '上门理发（老人）' }],
      },
    ]);
    await context.close();
  });

  it("the village board shows the village's place in last month's 考评指数 ranking, and nothing where there is none", async () => {
    // The board shows the running month (Beijing time); a month is ranked once it has ended.
    const month = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 7);
    const [y, m] = month.split('-').map(Number) as [number, number];
    const previous = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
    const stored = await ensureRanking(village.countyId!, previous, 'village');
    const mine = stored.items.find((i) => i.id === village.id)!;
    expect(stored.items).to.have.length(2);

    const clerk = await makeUser('clerk', { villageId: village.id });
    const { page, context } = await newDevice();
    await signIn(page, clerk.username, clerk.password);
    await page.goto(url('/app/board'));
    await page.waitForSelector('.board-rank');
    expect(await textOf(page, '.board-rank')).to.equal(
      `${Number(previous.slice(5))}月考评指数 第 ${mine.rank} 名 / 共 2 个村`,
    );
    await review(page, 'board-ranking');
    await context.close();

    const other = await makeUser('clerk', { villageId: elsewhere.id });
    const second = await newDevice(360);
    await signIn(second.page, other.username, other.password);
    await second.page.goto(url('/app/board'));
    await second.page.waitForSelector('.board-lists');
    await second.page.waitForLoadState('networkidle');
    expect(await second.page.locator('.board-rank').count()).to.equal(0);
    await second.context.close();
  });

  it("核验 recomputes a volunteer's hours chain in the browser: it holds, and an altered link is named", async () => {
    const s = await makeServiceScene({ ratedHoursNeedNoVote: true });
    await fullLoop(s, [3, 2, 1.5]);
    await fullLoop(s, [1.5, 2, 1]);
    const volunteer = s.volunteers[0]!;
    const { page, context } = await newDevice(360);
    await signIn(page, s.clerk.username, s.clerk.password);
    await page.goto(url(`/app/volunteers/${volunteer.id}`));
    await page.getByRole('button', { name: '核验时长记录' }).click();
    await page.waitForSelector('.alert-ok');
    expect(await textOf(page, '.alert-ok'))
      .to.contain('核验通过')
      .and.to.contain('2 条记录');
    await review(page, 'volunteer-hours-verified');

    // Someone edits the first link in the database directly: the chain no longer holds there.
    const raw = mongoose.connection.db!.collection('volunteer_hours');
    const first = await raw.findOne({ chain: volunteer.id, seq: 1 });
    expect(first, 'the first hours link').to.not.equal(null);
    await raw.updateOne({ _id: first!._id }, { $set: { hours: 30, totalAfter: 30 } });
    await page.reload();
    await page.getByRole('button', { name: '核验时长记录' }).click();
    await page.waitForSelector('.verify .alert-error');
    const broken = await textOf(page, '.verify .alert-error');
    expect(broken).to.contain('核验未通过').and.to.contain('第 1 条记录').and.to.contain('改动');
    await review(page, 'volunteer-hours-broken');
    await context.close();
  });
});
