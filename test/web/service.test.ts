/**
 * The issue-11 pages in a real browser (Debian's chromium via playwright-core), against the
 * service on a real port with its workers, on the real database and Redis:
 * - the volunteer service loop end to end: a household orders from the menu, the clerk's
 *   station dispatches to a team, a team member accepts naming two volunteers and marks it done
 *   with each one's hours, the household rates it, and the submissions it files reach the
 *   council's queue; the clerk registers a volunteer (only the masked ID number comes back) and
 *   reads a volunteer's hours record;
 * - the supervisor reads the village's points, objects to a submission in notice and flags a
 *   sale and a stock movement, with no button that writes points; the township station settles
 *   a flag, dispatches an escalated order, reads the 人情分 report and the rankings;
 * - the township station decides a household's appeal with a 复核意见, and the household's own
 *   page shows that note (the decision card is shared with the county office's page).
 * Every page state is checked by axe-core and photographed at 360 and 1280 px.
 */
import type { Page } from 'playwright-core';
import { expect } from '../support/expect';
import { http, makeStore, makeTerminal, makeUser, type TestUser } from '../support/factories';
import { createItem } from '../../src/modules/stores/items.service';
import { fund, newKey } from '../modules/redemption/scene';
import { eventually, makeRule, voteVia, type Json } from '../modules/submissions/scene';
import {
  daysFromNow,
  makeServiceScene,
  orderVia,
  testIdNumber,
  type ServiceScene,
} from '../modules/service-orders/scene';
import { newDevice, review, signIn, startHarness, stopHarness, url, type Harness } from './browser';

async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().innerText()).trim();
}

async function orderOf(s: ServiceScene, id: string): Promise<Json> {
  const res = await http().get(`/v1/service-orders/${id}`).set(s.admin.auth);
  expect(res.status).to.equal(200);
  return res.body as Json;
}

describe('issue-11 pages in a real browser (/app): the service loop, township, supervisor', function () {
  this.timeout(180_000);
  let h: Harness;

  before(async function () {
    this.timeout(120_000);
    h = await startHarness();
  });

  after(async function () {
    this.timeout(60_000);
    await stopHarness();
  });

  afterEach(function () {
    expect(h.cspViolations, 'Content-Security-Policy violations').to.deep.equal([]);
    expect(h.pageErrors, 'uncaught page errors').to.deep.equal([]);
  });

  describe('the service loop (点单 → 派单 → 接单 → 评单)', () => {
    let s: ServiceScene;
    let member: TestUser;
    let orderId: string;

    before(async function () {
      this.timeout(60_000);
      s = await makeServiceScene({ quorum: 2, noticePeriod: 'PT0S', ratedHoursNeedNoVote: false });
      // 王建国 is a volunteer of the village team and signs in as a team member.
      member = await makeUser('household', {
        householdId: s.households[0]!.id,
        volunteerId: s.volunteers[0]!.id,
      });
    });

    it('a household orders a service from the menu (item, what, where, when) and sees it in its orders', async () => {
      const { page, context } = await newDevice();
      const requester = s.households[2]!.user;
      await signIn(page, requester.username, requester.password);
      await page.getByRole('link', { name: '志愿服务' }).click();
      await page.waitForSelector('select[name=category] option[value=care]', { state: 'attached' });
      await review(page, 'service-order-form');
      // Nothing filled: every field says what to do.
      await page.getByRole('button', { name: '提交点单' }).click();
      expect(await textOf(page, '.alert-error')).to.contain('标红');
      expect(await page.locator('.field .error').count()).to.be.greaterThan(3);
      await page.selectOption('select[name=category]', 'care');
      await page.selectOption('select[name=itemCode]', 'care-01');
      await page.fill('textarea[name=what]', '老人独居，需要打扫卫生');
      await page.fill('input[name=where]', '三组 12 号张家');
      await page.fill('input[name=wantedBy]', daysFromNow(2));
      await page.getByRole('button', { name: '提交点单' }).click();
      await page.waitForSelector('.alert-ok');
      expect(await textOf(page, '.alert-ok')).to.contain('已点单');
      await review(page, 'service-ordered');
      await page.getByRole('link', { name: '查看这张订单' }).click();
      await page.waitForSelector('ol.history li');
      orderId = page.url().split('/').pop()!;
      const o = await orderOf(s, orderId);
      expect(o.status).to.equal('ordered');
      expect(o.detail).to.equal('老人独居，需要打扫卫生（地点：三组 12 号张家）');
      expect(await textOf(page, 'article.order')).to.contain('待派单');
      expect(await textOf(page, 'ol.history')).to.contain('点单');
      await review(page, 'service-my-orders');
      await context.close();
    });

    it('the clerk (village station) dispatches it to a team of its category', async () => {
      const { page, context } = await newDevice(360);
      await signIn(page, s.clerk.username, s.clerk.password);
      await page.goto(url('/app/service/orders'));
      await page.getByRole('button', { name: '查看进度和办理' }).first().click();
      await page.waitForSelector(`select[name=teamId] option[value="${s.team.id}"]`, {
        state: 'attached',
      });
      await page.getByRole('button', { name: '派单', exact: true }).click();
      expect(await textOf(page, '.field .error')).to.contain('请选择一支服务队');
      await page.selectOption('select[name=teamId]', s.team.id);
      await page.getByRole('button', { name: '派单', exact: true }).click();
      await page.waitForSelector('.alert-ok');
      expect((await orderOf(s, orderId)).status).to.equal('dispatched');
      await review(page, 'service-dispatched');
      await context.close();
    });

    it('a team member accepts, names two volunteers and marks it done with each one’s hours', async () => {
      const { page, context } = await newDevice();
      await signIn(page, member.username, member.password);
      await page.goto(url('/app/service/team'));
      await page.waitForSelector('article.order');
      await review(page, 'service-team');
      await page.getByRole('button', { name: '查看进度和办理' }).first().click();
      await page.getByRole('button', { name: '接单', exact: true }).click();
      expect(await textOf(page, 'fieldset .error')).to.contain('至少选一名');
      await page.getByLabel('王建国').check();
      await page.getByLabel('李秀英').check();
      await page.getByRole('button', { name: '接单', exact: true }).click();
      await page.waitForSelector('text=服务完成：登记每人时长');
      expect((await orderOf(s, orderId)).status).to.equal('accepted');
      await page.getByLabel('王建国 的服务时长（小时）').fill('1.2');
      await page.getByLabel('李秀英 的服务时长（小时）').fill('1.5');
      await page.getByRole('button', { name: '标记完成' }).click();
      expect(await textOf(page, '.field.has-error .error')).to.contain('按半小时计');
      await page.getByLabel('王建国 的服务时长（小时）').fill('2');
      await review(page, 'service-complete-form');
      await page.getByRole('button', { name: '标记完成' }).click();
      await page.waitForSelector('.alert-ok >> text=已标记完成');
      const o = await orderOf(s, orderId);
      expect(o.status).to.equal('completed');
      expect(o.hours).to.deep.equal([
        { volunteerId: s.volunteers[0]!.id, hours: 2 },
        { volunteerId: s.volunteers[1]!.id, hours: 1.5 },
      ]);
      await context.close();
    });

    it('the household rates it 1–5 with a comment; the hours become submissions that reach the council', async () => {
      const { page, context } = await newDevice(360);
      const requester = s.households[2]!.user;
      await signIn(page, requester.username, requester.password, `/app/service/orders/${orderId}`);
      await page.waitForSelector('text=对这次服务打分');
      await review(page, 'service-rate');
      await page.getByLabel('5 星').check();
      await page.fill('textarea[name=comment]', '服务周到，很满意');
      await page.getByRole('button', { name: '提交评价' }).click();
      await page.waitForSelector('.alert-ok >> text=谢谢评价');
      const rated = await eventually(async () => {
        const o = await orderOf(s, orderId);
        return o.submissions.length === 2 && o.submissions.every((x: Json) => x.submissionId) && o;
      }, 'two submissions filed');
      expect(rated.status).to.equal('rated');
      expect(rated.stars).to.equal(5);
      await page.reload();
      await page.waitForSelector('text=已为其家庭提交积分申报');
      expect(await page.locator('text=已为其家庭提交积分申报').count()).to.equal(2);
      await review(page, 'service-rated');
      await context.close();

      // The council sees both volunteers' households' submissions in its queue (the village's
      // policy: rated hours still go to a vote).
      const council = await newDevice();
      await signIn(council.page, s.council[0]!.username, s.council[0]!.password);
      // Names come with the village's households, read beside the queue.
      await council.page.waitForSelector('article.item >> text=王建国');
      await council.page.waitForSelector('article.item >> text=李秀英');
      const queue = await council.page.locator('main').innerText();
      expect(queue).to.contain('志愿服务');
      expect(queue).to.contain('王建国');
      expect(queue).to.contain('李秀英');
      await council.context.close();
    });

    it('a team member claims an open order of its category for the team (认领)', async () => {
      const res = await orderVia(s, { detail: '帮忙代购药品' });
      expect(res.status).to.equal(201);
      const { page, context } = await newDevice(360);
      await signIn(page, member.username, member.password, '/app/service/team');
      await page.waitForSelector('text=帮忙代购药品');
      // A member cannot read an order before it is the team's: the list row offers the claim.

      await page.getByRole('button', { name: /认领/ }).click();
      await page.waitForSelector('.alert-ok >> text=认领');
      const o = await orderOf(s, res.body.id);
      expect(o.status).to.equal('dispatched');
      expect(o.teamId).to.equal(s.team.id);
      expect(o.history.find((e: Json) => e.type === 'dispatched').byRole).to.equal('team_member');
      // The claimed order now waits in the team's own list for its volunteers (the list reloads
      // after the claim: wait for it rather than count at once).
      await page.waitForSelector('text=接单：安排志愿者');
      expect(await page.locator('text=接单：安排志愿者').count()).to.equal(1);
      await review(page, 'service-claimed');
      await context.close();
    });

    it('the clerk registers a volunteer (only the masked ID number comes back), reads an hours record, and the teams', async () => {
      const { page, context } = await newDevice();
      await signIn(page, s.clerk.username, s.clerk.password);
      await page.getByRole('link', { name: '志愿者' }).click();
      await page.waitForSelector('table');
      const idNumber = testIdNumber();
      await page.fill('input[name=name]', '周老师');
      await page.fill(
        'input[name=idNumber]',
        idNumber.slice(0, 17) + (idNumber.endsWith('0') ? '1' : '0'),
      );
      await page.getByRole('button', { name: '登记', exact: true }).click();
      await page.waitForSelector('.alert-error');
      expect(await textOf(page, '.alert-error')).to.contain('身份证号');
      // The refused number is not kept on the page either.
      expect(await page.inputValue('input[name=idNumber]')).to.equal('');
      await page.fill('input[name=idNumber]', idNumber);
      await page.getByRole('button', { name: '登记', exact: true }).click();
      await page.waitForSelector('.alert-ok');
      const ok = await textOf(page, '.alert-ok');
      expect(ok).to.contain('周老师');
      expect(ok).to.not.contain(idNumber);
      expect(await page.inputValue('input[name=idNumber]')).to.equal('');
      await page.waitForSelector('td >> text=周老师');
      expect(await page.locator('main').innerText()).to.not.contain(idNumber);
      await review(page, 'volunteers');
      await page.getByRole('link', { name: '王建国' }).click();
      await page.waitForSelector('text=累计服务时长');
      expect(await textOf(page, '.balances')).to.contain('2 小时');
      await review(page, 'volunteer-hours');
      await page.goto(url('/app/volunteers/teams'));
      await page.getByRole('button', { name: '队员和加入退出记录' }).first().click();
      await page.waitForSelector('text=加入和退出记录');
      await review(page, 'teams');
      await context.close();
    });
    it('the clerk records a household’s lineage and relatives (the roster behind the 人情分 report)', async () => {
      const { page, context } = await newDevice(360);
      await signIn(page, s.clerk.username, s.clerk.password);
      await page.getByRole('link', { name: '亲属关系' }).click();
      await page.selectOption('select[name=kinHousehold]', s.households[0]!.id);
      await page.fill('input[name=lineage]', '王氏二房');
      await page.fill('input[name=kinFilter]', '李秀英');
      await page.locator('label.check', { hasText: '李秀英' }).locator('input').check();
      await review(page, 'kinship');
      await page.getByRole('button', { name: '保存' }).click();
      await page.waitForSelector('.alert-ok >> text=已保存');
      const k = await http().get(`/v1/households/${s.households[0]!.id}/kinship`).set(s.clerk.auth);
      expect(k.body.lineage).to.equal('王氏二房');
      expect(k.body.relatedHouseholdIds).to.deep.equal([s.households[1]!.id]);
      await context.close();
    });
  });

  describe('supervisor (监督运营) and township station (乡镇实践所)', () => {
    let s: ServiceScene;
    let escalatedId: string;

    before(async function () {
      this.timeout(60_000);
      s = await makeServiceScene({ quorum: 2, noticePeriod: 'P1D', orderTimeout: 'PT2S' });
      const store = await makeStore([s.villageId]);
      await createItem(store.id, { sku: 'RICE-5', name: '大米5斤', points: 10, stock: 20 });
      const terminal = await makeTerminal(store.id);
      const household = (
        await http().get(`/v1/households/${s.households[0]!.id}`).set(s.admin.auth)
      ).body;
      await fund(household.id, 100);
      const sale = await http()
        .post('/v1/redemptions')
        .set(terminal.auth)
        .set('Idempotency-Key', newKey())
        .send({ cardNo: household.cardNo, items: [{ sku: 'RICE-5', qty: 1 }] });
      expect(sale.status, JSON.stringify(sale.body)).to.equal(201);
      const filed = await http()
        .post('/v1/submissions')
        .set(s.clerk.auth)
        .send({
          villageId: s.villageId,
          householdId: s.households[1]!.id,
          ruleCode: s.rule.code,
          quantity: 2,
          occurredOn: new Date().toISOString().slice(0, 10),
          evidence: { text: '签到表' },
        });
      expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
      await voteVia(filed.body.id, s.council[0]!);
      expect((await voteVia(filed.body.id, s.council[1]!)).body.status).to.equal('in_notice');
      const o = await orderVia(s);
      expect(o.status).to.equal(201);
      escalatedId = o.body.id;
    });

    it('the supervisor reads points, objects to a submission in notice, flags a sale and a stock movement; no button writes points', async () => {
      const { page, context } = await newDevice();
      await signIn(page, s.supervisor.username, s.supervisor.password);
      expect(page.url()).to.equal(url('/app/supervisor'));
      await page.selectOption('select[name=household]', s.households[0]!.id);
      await page.waitForSelector('.balances');
      expect(await textOf(page, '.balances')).to.contain('90');
      await review(page, 'supervisor-accounts');
      const writes = page.getByRole('button', { name: /申报|同意|兑换|调整|扣分|入账/ });
      expect(await writes.count()).to.equal(0);

      await page.getByRole('link', { name: '评议公示' }).click();
      await page.waitForSelector('text=提出异议');
      await page.getByRole('button', { name: '提出异议' }).click();
      expect(await textOf(page, '.alert-error')).to.contain('异议理由');
      await page.getByLabel('异议理由').fill('当天此户不在村里，签到表有误');
      await review(page, 'supervisor-notice');
      await page.getByRole('button', { name: '提出异议' }).click();
      await page.waitForSelector('.alert-ok');

      await page.getByRole('link', { name: '公益超市' }).click();
      await page.waitForSelector('text=最近的兑换');
      await page.getByRole('button', { name: /反映问题：小票/ }).click();
      await page.getByLabel(/反映内容/).fill('这笔兑换的时间在超市关门以后');
      await page.getByRole('button', { name: '反映到乡镇' }).click();
      await page.waitForSelector('.alert-ok >> text=已反映到乡镇实践所');
      await page.getByRole('button', { name: '查看“大米5斤”的变动' }).click();
      await page.getByRole('button', { name: '反映问题：第 2 笔变动' }).click();
      await page.getByLabel(/反映内容/).fill('兑换一袋，实际少了两袋');
      await review(page, 'supervisor-store');
      await page.getByRole('button', { name: '反映到乡镇' }).click();
      await page.waitForSelector('.alert-ok >> nth=1');

      await page.getByRole('link', { name: '我的反映' }).click();
      await page.waitForSelector('text=反映内容：兑换一袋，实际少了两袋');
      expect(await page.locator('main article.item').count()).to.equal(2);
      await review(page, 'supervisor-flags');
      await page.getByRole('link', { name: '人情分分析' }).click();
      await page.waitForSelector('text=阈值');
      await review(page, 'supervisor-concentration');
      await context.close();

      const flags = await http().get('/v1/oversight-flags?status=open').set(s.township.auth);
      expect(flags.body.items).to.have.length(2);
    });

    it('the township station dispatches an escalated order, settles a flag, reads the 人情分 report and the rankings', async () => {
      await eventually(
        async () => (await orderOf(s, escalatedId)).status === 'escalated',
        'the order escalates after PT2S',
      );
      const { page, context } = await newDevice(360);
      await signIn(page, s.township.username, s.township.password);
      expect(page.url()).to.equal(url('/app/township'));
      await page.waitForSelector('article.order');
      expect(await textOf(page, 'article.order')).to.contain('超时');
      await page.getByRole('button', { name: '查看进度和办理' }).click();
      await page.waitForSelector(`select[name=teamId] option[value="${s.team.id}"]`, {
        state: 'attached',
      });
      await review(page, 'township-escalated');
      await page.selectOption('select[name=teamId]', s.team.id);
      await page.getByRole('button', { name: '派单', exact: true }).click();
      await page.waitForSelector('.alert-ok');
      expect((await orderOf(s, escalatedId)).status).to.equal('dispatched');

      await page.getByRole('link', { name: '监督反映' }).click();
      await page.waitForSelector('text=反映内容');
      await review(page, 'township-flags');
      await page.getByRole('button', { name: '办结' }).first().click();
      expect(await textOf(page, '.alert-error')).to.contain('办理结果');
      await page.getByLabel('办理结果').first().fill('已到超市核对，账实相符');
      await page.getByRole('button', { name: '办结' }).first().click();
      await page.waitForSelector('.alert-ok >> text=已办结：已到超市核对，账实相符');
      const open = await http().get('/v1/oversight-flags?status=open').set(s.township.auth);
      expect(open.body.items).to.have.length(1);

      await page.getByRole('link', { name: '申诉复核' }).click();
      await page.waitForSelector('text=没有待复核的申诉');
      await page.getByRole('link', { name: '人情分分析' }).click();
      await page.selectOption('select[name=concentrationVillage]', s.villageId);
      await page.waitForSelector('text=阈值');
      await review(page, 'township-concentration');

      await page.getByRole('link', { name: '考评指数' }).click();
      await page.selectOption('select[name=level]', 'team');
      await page.waitForSelector('text=本月临时结果');
      await review(page, 'rankings');
      await context.close();
    });
  });

  describe('an appeal decided by the township station (乡镇实践所)', () => {
    let s: ServiceScene;
    let deductionId: string;
    const NOTE = '村委会同组长现场核实，确系他人所为，撤销扣分';

    before(async function () {
      this.timeout(60_000);
      s = await makeServiceScene({ quorum: 2, noticePeriod: 'PT0S' });
      const rule = await makeRule({ title: '乱倒垃圾', kind: 'deduction', points: 3 });
      const filed = await http()
        .post('/v1/submissions')
        .set(s.clerk.auth)
        .send({
          villageId: s.villageId,
          householdId: s.households[1]!.id,
          ruleCode: rule.code,
          occurredOn: new Date().toISOString().slice(0, 10),
          evidence: { text: '路口监控照片' },
        });
      expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
      deductionId = filed.body.id as string;
      await voteVia(deductionId, s.council[0]!);
      await voteVia(deductionId, s.council[1]!);
      await eventually(
        async () =>
          (await http().get(`/v1/submissions/${deductionId}`).set(s.clerk.auth)).body.status ===
          'posted',
        'the deduction posts',
      );
      const appeal = await http()
        .post(`/v1/submissions/${deductionId}/appeals`)
        .set(s.households[1]!.user.auth)
        .send({ reason: '那天全家在外地走亲戚，垃圾不是我家倒的' });
      expect(appeal.status, JSON.stringify(appeal.body)).to.equal(201);
    });

    it('the station upholds it with a 复核意见, and the household reads that note on its appeals page', async () => {
      const { page, context } = await newDevice(360);
      await signIn(page, s.township.username, s.township.password);
      await page.getByRole('link', { name: '申诉复核' }).click();
      const card = page.locator('article.item', { hasText: '那天全家在外地走亲戚' });
      await card.waitFor();
      expect(await card.innerText()).to.contain('李秀英');
      // No note: the station is told to write one (the household reads it).
      await card.getByRole('button', { name: '申诉成立，撤销扣分' }).click();
      expect(await card.locator('.alert-error').innerText()).to.contain('复核意见');
      await card.getByLabel(/复核意见/).fill(NOTE);
      await review(page, 'township-appeal');
      await card.getByRole('button', { name: '申诉成立，撤销扣分' }).click();
      await page.waitForSelector('.alert-ok >> text=已认定申诉成立，扣分已撤销');
      await page.waitForSelector('text=没有待复核的申诉');
      await review(page, 'township-appeal-decided');
      await context.close();

      const decided = (await http().get(`/v1/submissions/${deductionId}`).set(s.admin.auth)).body
        .appeal as Json;
      expect(decided.status).to.equal('upheld');
      expect(decided.note).to.equal(NOTE);

      const household = await newDevice(360);
      const user = s.households[1]!.user;
      await signIn(household.page, user.username, user.password);
      await household.page.goto(url('/app/household/appeals'));
      const mine = household.page.locator('article.item', { hasText: '乱倒垃圾' });
      await mine.locator('.decision').waitFor();
      expect(await mine.locator('.decision').innerText()).to.contain(`复核说明：${NOTE}`);
      await review(household.page, 'household-appeal-upheld-by-township');
      await household.context.close();
    });
  });
});
