/**
 * The pages wired to the APIs that came after them, in a real browser (Debian's chromium via
 * playwright-core) against the service on a real port, the real database and Redis:
 *
 * - the admin disables a clerk (the clerk's very next action goes back to sign-in, saying why),
 *   enables the account again and resets its password, each after a confirmation in Chinese;
 * - 修改密码 for every person's account, with the checks in Chinese, then sign-in again;
 * - the household opens the service's printable statement, sees who looked its score up (the
 *   officer's and the cooperative's names), appeals a deduction with a reason and reads the
 *   decision's note;
 * - the counter explains out of stock, the daily limit, a locked card and too few points, each
 *   state reached through the real API.
 *
 * Every state is checked by axe-core and photographed at 360 and 1280 px; no page may break its
 * CSP or throw.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { expect } from '../support/expect';
import { ctx } from '../support/context';
import {
  http,
  makeCooperative,
  makeHousehold,
  makeStore,
  makeUser,
  makeVillage,
  unique,
  type TestUser,
} from '../support/factories';
import { eventually, makeRule } from '../modules/submissions/scene';
import { fund } from '../modules/redemption/scene';
import { setCardPin } from '../../src/modules/redemption/pin.service';
import { updateVillagePolicy } from '../../src/modules/villages/villages.service';
import { createItem } from '../../src/modules/stores/items.service';
import { createTerminal } from '../../src/modules/stores/stores.service';
import {
  checkA11y,
  FOCUSED_TEXT,
  newDevice,
  review,
  SCREENSHOTS,
  signIn,
  startHarness,
  stopHarness,
  url,
  type Harness,
} from './browser';

async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().innerText()).trim();
}

interface World {
  villageId: string;
  household: { id: string; cardNo: string };
  withPin: { id: string; cardNo: string };
  poor: { id: string; cardNo: string };
  clerk: TestUser;
  council: TestUser;
  householdLogin: TestUser;
  officer: TestUser;
  admin: TestUser;
  terminal: { clientId: string; clientSecret: string };
  cooperativeId: string;
}

describe('pages wired to the account, statement, inquiry, appeal and counter APIs (/app)', function () {
  this.timeout(180_000);
  let h: Harness;
  let w: World;

  before(async function () {
    this.timeout(120_000);
    h = await startHarness();
    const village = await makeVillage({ name: '账户村', quorum: 1, noticePeriod: 'PT0S' });
    const hh = await makeHousehold(village.id, { head: '王大明' });
    const withPin = await makeHousehold(village.id, { head: '李秀英' });
    const poor = await makeHousehold(village.id, { head: '赵建国' });
    await fund(hh.id, 100);
    await fund(withPin.id, 50);
    await fund(poor.id, 3);
    await setCardPin(
      { id: 'test-clerk', kind: 'person', role: 'admin' },
      withPin.id,
      '2468',
      ctx().config.passwordKdfLog2N,
    );
    const store = await makeStore([village.id]);
    await createItem(store.id, { sku: 'SOAP', name: '肥皂', points: 5, stock: 50 });
    await createItem(store.id, { sku: 'COOKER', name: '电饭锅', points: 20, stock: 1 });
    const terminal = await createTerminal(store.id, ctx().config.passwordKdfLog2N);
    const coop = await makeCooperative([village.id]);
    w = {
      villageId: village.id,
      household: { id: hh.id, cardNo: hh.cardNo },
      withPin: { id: withPin.id, cardNo: withPin.cardNo },
      poor: { id: poor.id, cardNo: poor.cardNo },
      clerk: await makeUser('clerk', { villageId: village.id }),
      council: await makeUser('council', { villageId: village.id }),
      householdLogin: await makeUser('household', { householdId: hh.id }),
      officer: await makeUser('officer', { cooperativeId: coop.id }),
      admin: await makeUser('admin'),
      terminal: { clientId: terminal.clientId, clientSecret: terminal.clientSecret },
      cooperativeId: coop.id,
    };
  });

  after(async function () {
    this.timeout(60_000);
    await stopHarness();
  });

  afterEach(function () {
    expect(h.cspViolations, 'Content-Security-Policy violations').to.deep.equal([]);
    expect(h.pageErrors, 'uncaught page errors').to.deep.equal([]);
  });

  it('admin: disables a clerk after a confirmation (the clerk’s next action goes back to sign-in saying why), enables it, resets its password', async () => {
    const clerk = await newDevice(360);
    await signIn(clerk.page, w.clerk.username, w.clerk.password);
    expect(clerk.page.url()).to.equal(url('/app/clerk'));

    const { page, context } = await newDevice();
    await signIn(page, w.admin.username, w.admin.password);
    await page.goto(url('/app/admin/users'));
    await page.locator('select[name=role]').selectOption('clerk');
    // Among many accounts (the whole suite's), the admin finds the clerk by the start of its name.
    await page.getByLabel('用户名开头').fill(w.clerk.username.slice(0, -2));
    await page.getByLabel('用户名开头').press('Enter');
    const row = page.locator('tr', { hasText: w.clerk.username });
    await row.getByRole('button', { name: `停用：${w.clerk.username}` }).click();
    const confirm = page.locator('form.confirm');
    expect(await confirm.innerText()).to.contain('立即退出登录');
    await review(page, 'admin-user-disable');
    // 取消 changes nothing.
    await confirm.getByRole('button', { name: '取消' }).click();
    expect(await confirm.count()).to.equal(0);
    expect(
      (await http().get(`/v1/users/${w.clerk.user.id}`).set(w.admin.auth)).body.disabled,
    ).to.equal(false);

    await row.getByRole('button', { name: `停用：${w.clerk.username}` }).click();
    // The cursor is on the confirming button: Enter confirms.
    await page.waitForSelector('form.confirm button[type=submit]:focus');
    expect(await page.evaluate(FOCUSED_TEXT)).to.equal('确定停用');
    await page.keyboard.press('Enter');
    await confirm.locator('.alert-ok').waitFor();
    await page.waitForSelector('form.confirm button:focus');
    expect(await page.evaluate(FOCUSED_TEXT)).to.equal('完成');
    expect(await confirm.locator('.alert-ok').innerText()).to.contain(`已停用 ${w.clerk.username}`);
    await row.locator('.badge', { hasText: '已停用' }).waitFor();
    await review(page, 'admin-user-disabled');
    await confirm.getByRole('button', { name: '完成' }).click();

    // The clerk, still on the page, searches: the answer is 401 and sign-in says why.
    await clerk.page.fill('input[name=q]', w.household.cardNo);
    await clerk.page.keyboard.press('Enter');
    await clerk.page.waitForSelector('input[name=username]');
    expect(await textOf(clerk.page, '.alert-warn')).to.contain('账号可能已被县中心停用');
    await review(clerk.page, 'sign-in-account-stopped');
    await clerk.page.fill('input[name=username]', w.clerk.username);
    await clerk.page.fill('input[name=password]', w.clerk.password);
    await clerk.page.getByRole('button', { name: '登录' }).click();
    await clerk.page.waitForSelector('.alert-error');
    expect(await textOf(clerk.page, '.alert-error')).to.contain('账号被停用时也无法登录');

    // Enabled again, then a new password handed over in person.
    await row.getByRole('button', { name: `启用：${w.clerk.username}` }).click();
    expect(await confirm.innerText()).to.contain('可以用原来的密码重新登录');
    await confirm.getByRole('button', { name: '确定启用' }).click();
    await confirm.locator('.alert-ok').waitFor();
    await row.locator('.badge', { hasText: '正常' }).waitFor();
    await confirm.getByRole('button', { name: '完成' }).click();

    await row.getByRole('button', { name: `重设密码：${w.clerk.username}` }).click();
    await confirm.getByRole('button', { name: '确定重设密码' }).click();
    expect(await textOf(page, 'form.confirm .error')).to.contain('请填写“新密码”');
    await confirm.locator('input[name=newPassword]').fill('short');
    await confirm.locator('input[name=confirmPassword]').fill('short');
    await confirm.getByRole('button', { name: '确定重设密码' }).click();
    expect(await textOf(page, 'form.confirm .error')).to.contain('至少 10 个字符');
    await confirm.locator('input[name=newPassword]').fill('新密码-village-2026');
    await confirm.locator('input[name=confirmPassword]').fill('新密码-village-2025');
    await confirm.getByRole('button', { name: '确定重设密码' }).click();
    expect(await textOf(page, 'form.confirm .error')).to.contain('两次输入的新密码不一样');
    await review(page, 'admin-user-reset');
    await confirm.locator('input[name=confirmPassword]').fill('新密码-village-2026');
    await confirm.getByRole('button', { name: '确定重设密码' }).click();
    await confirm.locator('.alert-ok').waitFor();
    expect(await confirm.locator('.alert-ok').innerText()).to.contain('请当面告知新密码');
    await context.close();

    // The old password no longer works; the new one does.
    await clerk.page.fill('input[name=password]', '新密码-village-2026');
    await clerk.page.getByRole('button', { name: '登录' }).click();
    await clerk.page.waitForSelector('header.top');
    expect(await clerk.page.locator('input[name=q]').count()).to.equal(1);
    const old = await http()
      .post('/v1/auth/token')
      .send({ grantType: 'password', username: w.clerk.username, password: w.clerk.password });
    expect(old.status).to.equal(401);
    await clerk.context.close();
    const fresh = await http()
      .post('/v1/auth/token')
      .send({ grantType: 'password', username: w.clerk.username, password: '新密码-village-2026' });
    expect(fresh.status).to.equal(200);
    w.clerk = {
      ...w.clerk,
      password: '新密码-village-2026',
      token: fresh.body.accessToken,
      auth: { Authorization: `Bearer ${fresh.body.accessToken}` },
    };
  });

  it('修改密码: every person’s account has it; the checks speak Chinese; after the change, sign in again with the new password', async () => {
    for (const who of [w.council, w.officer, w.admin]) {
      const { page, context } = await newDevice();
      await signIn(page, who.username, who.password);
      await page.getByRole('link', { name: '修改密码' }).click();
      await page.waitForSelector('input[name=currentPassword]');
      expect(await textOf(page, 'h1')).to.equal('修改密码');
      await context.close();
    }

    const { page, context } = await newDevice(360);
    await signIn(page, w.householdLogin.username, w.householdLogin.password);
    await page.getByRole('link', { name: '修改密码' }).click();
    await page.waitForSelector('input[name=currentPassword]:focus');
    await review(page, 'password');
    const send = () => page.getByRole('button', { name: '确认修改' }).click();
    const errors = async () =>
      (await page.locator('.password-form .error').allInnerTexts()).join(' ');

    await send();
    expect(await errors()).to.contain('请填写“当前密码”');
    expect(await errors()).to.contain('请填写“新密码”');
    expect(await errors()).to.contain('请再输入一遍新密码');
    await page.fill('input[name=currentPassword]', w.householdLogin.password);
    await page.fill('input[name=newPassword]', '短密码');
    await page.fill('input[name=confirm]', '短密码');
    await send();
    expect(await errors()).to.contain('至少 10 个字符，现在只有 3 个');
    await page.fill('input[name=newPassword]', '我家的新密码是两千零二十六');
    await send();
    expect(await errors()).to.contain('两次输入的新密码不一样');
    await page.fill('input[name=confirm]', '我家的新密码是两千零二十六');
    await page.fill('input[name=currentPassword]', 'not-my-password');
    await send();
    await page.waitForSelector('.password-form .error');
    expect(await errors()).to.contain('当前密码不正确');
    await review(page, 'password-errors');
    await page.fill('input[name=currentPassword]', w.householdLogin.password);
    await send();
    await page.waitForSelector('input[name=username]');
    expect(await textOf(page, '.alert-info')).to.contain('密码已修改。请用新密码重新登录');
    await review(page, 'password-changed-sign-in');
    // The old token stopped working, the old password too.
    expect((await http().get('/v1/me').set(w.householdLogin.auth)).status).to.equal(401);
    await page.fill('input[name=username]', w.householdLogin.username);
    await page.fill('input[name=password]', '我家的新密码是两千零二十六');
    await page.getByRole('button', { name: '登录' }).click();
    await page.waitForSelector('.entries-table, .empty');
    expect(page.url()).to.equal(url('/app/household'));
    await context.close();
    const fresh = await http().post('/v1/auth/token').send({
      grantType: 'password',
      username: w.householdLogin.username,
      password: '我家的新密码是两千零二十六',
    });
    expect(fresh.status).to.equal(200);
    w.householdLogin = {
      ...w.householdLogin,
      password: '我家的新密码是两千零二十六',
      token: fresh.body.accessToken,
      auth: { Authorization: `Bearer ${fresh.body.accessToken}` },
    };
  });

  it('household: opens the printable statement, sees who looked its score up by name, appeals a deduction and reads the decision’s note', async () => {
    // The household consents; the officer looks the score up.
    const consent = await http()
      .post('/v1/consents')
      .set(w.householdLogin.auth)
      .send({
        householdId: w.household.id,
        cooperativeId: w.cooperativeId,
        expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      });
    expect(consent.status, JSON.stringify(consent.body)).to.equal(201);
    const lookup = await http()
      .get(`/v1/credit/households/${w.household.id}`)
      .query({ purpose: '春耕贷款审批' })
      .set(w.officer.auth);
    expect(lookup.status, JSON.stringify(lookup.body)).to.equal(200);
    const coopName = (await http().get(`/v1/cooperatives/${w.cooperativeId}`).set(w.admin.auth))
      .body.name as string;
    // A deduction, posted.
    const rule = await makeRule({
      code: unique('AD').slice(0, 32),
      title: '乱堆柴草',
      kind: 'deduction',
      points: 2,
    });
    const filed = await http()
      .post('/v1/submissions')
      .set(w.clerk.auth)
      .send({
        villageId: w.villageId,
        householdId: w.household.id,
        ruleCode: rule.code,
        occurredOn: new Date().toISOString().slice(0, 10),
        evidence: { text: '村道堆放柴草' },
      });
    expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
    expect(
      (
        await http()
          .post(`/v1/submissions/${filed.body.id}/votes`)
          .set(w.council.auth)
          .send({ decision: 'approve' })
      ).status,
    ).to.equal(200);
    await eventually(
      async () =>
        (await http().get(`/v1/submissions/${filed.body.id}`).set(w.clerk.auth)).body.status ===
        'posted',
      'the deduction posts',
    );

    const { page, context } = await newDevice(360);
    await signIn(page, w.householdLogin.username, w.householdLogin.password);
    const link = page.getByRole('link', { name: /打开对账单/ });
    await link.waitFor();
    await review(page, 'household-statement-link');
    const [statement] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await statement.waitForSelector('h1');
    expect(await statement.title()).to.equal('道德积分对账单 · 王大明');
    expect(await textOf(statement, 'h1')).to.equal('道德积分对账单');
    expect(await statement.locator('tbody tr').count()).to.be.at.least(2);
    expect(await textOf(statement, 'tbody')).to.contain('乱堆柴草');
    // Its own inline styles apply (the statement's CSP allows them; the SPA's does not govern it).
    expect(
      await statement.evaluate("getComputedStyle(document.querySelector('main')).maxWidth"),
    ).to.not.equal('none');
    await checkA11y(statement, 'household-official-statement');
    for (const width of [360, 1280]) {
      await statement.setViewportSize({ width, height: 900 });
      await statement.screenshot({
        path: path.join(SCREENSHOTS, `household-official-statement-${width}.png`),
        fullPage: true,
      });
    }
    await statement.close();

    await page.goto(url('/app/household/credit'));
    await page.waitForSelector('table');
    const inquiries = await textOf(page, 'table');
    expect(inquiries).to.contain('春耕贷款审批');
    expect(inquiries).to.contain(coopName);
    expect(inquiries).to.contain(w.officer.username);
    await review(page, 'household-inquiries-named');

    await page.goto(url('/app/household/appeals'));
    const card = page.locator('article.item', { hasText: '乱堆柴草' });
    await card.getByRole('button', { name: '提交申诉' }).click();
    expect(await card.locator('.alert-error').innerText()).to.contain('申诉理由');
    await card.locator('textarea').fill('柴草是邻居家的，有照片');
    await card.getByRole('button', { name: '提交申诉' }).click();
    await card.locator('.alert-ok').waitFor();

    // The county office dismisses it with a note, on its page.
    const admin = await newDevice();
    await signIn(admin.page, w.admin.username, w.admin.password);
    await admin.page.goto(url('/app/admin/appeals'));
    const appeal = admin.page.locator('article.item', { hasText: '柴草是邻居家的' });
    await appeal.locator('textarea').fill('照片看不出是谁家的，村委现场核实属实，维持扣分');
    await appeal.getByRole('button', { name: '驳回申诉' }).click();
    await admin.page.waitForSelector('.alert-ok >> text=已驳回申诉');
    await admin.context.close();

    await page.reload();
    const decided = page.locator('article.item', { hasText: '乱堆柴草' });
    await decided.locator('.decision').waitFor();
    expect(await decided.locator('.decision').innerText()).to.contain(
      '申诉被驳回。复核说明：照片看不出是谁家的，村委现场核实属实，维持扣分',
    );
    expect(await decided.innerText()).to.contain('理由：柴草是邻居家的，有照片');
    await review(page, 'household-appeal-decided');
    await context.close();
  });

  it('counter: clear messages for out of stock, the daily limit, a locked card and too few points, each reached through the real API', async () => {
    const { page, context } = await newDevice();
    await context.addInitScript({
      content: `localStorage.setItem('msl.terminal', ${JSON.stringify(JSON.stringify(w.terminal))})`,
    });
    const kb = page.keyboard;
    await page.goto(url('/app/counter'));
    await page.waitForSelector('input[name=cardNo]:focus');
    const basket = async (cardNo: string, skus: string[]) => {
      await page.fill('input[name=cardNo]', cardNo);
      await kb.press('Enter');
      await page.waitForSelector('input[name=sku]:focus');
      for (const sku of skus) {
        await kb.type(sku);
        await kb.press('Enter');
      }
      await kb.press('Enter'); // empty code: to 确认兑换
    };
    const nextCustomer = async () => {
      await kb.press('Escape');
      await page.waitForSelector('input[name=cardNo]:focus');
    };

    // Out of stock: one rice cooker left, two in the basket.
    await basket(w.household.cardNo, ['COOKER', 'COOKER']);
    await kb.press('Enter');
    await page.waitForSelector('.alert-error');
    expect(await textOf(page, '.alert-error')).to.contain('库存不足：“电饭锅”只剩 1 件');
    await review(page, 'counter-out-of-stock');
    await nextCustomer();

    // The daily limit: 12 points a day, 5 already spent today at another till.
    await updateVillagePolicy(w.villageId, { redemptionDailyLimit: 12 });
    const token = (
      await http()
        .post('/v1/auth/token')
        .send({ grantType: 'client_credentials', ...w.terminal })
    ).body.accessToken as string;
    const till = { Authorization: `Bearer ${token}` };
    const spent = await http()
      .post('/v1/redemptions')
      .set(till)
      .set('Idempotency-Key', unique('k'))
      .send({ cardNo: w.household.cardNo, items: [{ sku: 'SOAP', qty: 1 }] });
    expect(spent.status, JSON.stringify(spent.body)).to.equal(201);
    await basket(w.household.cardNo, ['SOAP', 'SOAP']);
    await kb.press('Enter');
    await page.waitForSelector('.alert-error');
    expect(await textOf(page, '.alert-error')).to.contain(
      '超过本村每日兑换上限：每天最多 12 分，今天已兑换 5 分',
    );
    await review(page, 'counter-daily-limit');
    await nextCustomer();

    // A locked card: three wrong PINs at another till.
    for (let i = 0; i < 3; i++) {
      const res = await http()
        .post('/v1/redemptions')
        .set(till)
        .set('Idempotency-Key', unique('k'))
        .send({ cardNo: w.withPin.cardNo, items: [{ sku: 'SOAP', qty: 1 }], pin: '0000' });
      expect(res.status).to.be.oneOf([400, 401, 403, 409, 422, 423]);
    }
    const locked = await http().get(`/v1/cards/${w.withPin.cardNo}`).set(till);
    expect(locked.body.lockedUntil, JSON.stringify(locked.body)).to.be.a('string');
    await page.fill('input[name=cardNo]', w.withPin.cardNo);
    await kb.press('Enter');
    await page.waitForSelector('.alert-error');
    expect(await textOf(page, '.alert-error')).to.contain('此卡已锁定到');
    expect(await textOf(page, '.alert-error')).to.contain('暂时不能兑换');
    await review(page, 'counter-card-locked');
    await page.fill('input[name=sku]', 'SOAP');
    await page.locator('input[name=sku]').press('Enter');
    await page.fill('input[name=pin]', '2468');
    await page.getByRole('button', { name: /确认兑换/ }).click();
    await page.waitForSelector('.alert-error >> text=连续输错 3 次密码');
    expect(await textOf(page, '.alert-error')).to.contain('已锁定到');
    await nextCustomer();

    // Too few points: 3 on the card, 5 in the basket.
    await basket(w.poor.cardNo, ['SOAP']);
    await kb.press('Enter');
    await page.waitForSelector('.alert-error');
    expect(await textOf(page, '.alert-error')).to.contain('积分不足：本卡可用 3 分，本单需要 5 分');
    await review(page, 'counter-insufficient-points');
    await context.close();

    // Nothing was spent by any refusal: the household's one sale (at the other till) stands alone.
    const entries = (
      await http().get(`/v1/households/${w.household.id}/entries?limit=500`).set(w.admin.auth)
    ).body.items as { type: string; points: number }[];
    expect(entries.filter((e) => e.type === 'redemption').map((e) => e.points)).to.deep.equal([-5]);
    await updateVillagePolicy(w.villageId, { redemptionDailyLimit: null });
  });
});
