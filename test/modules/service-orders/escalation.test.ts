/**
 * Timeouts: an order nobody accepts within the village's orderTimeout escalates to the township
 * station, by its delayed job, or, when Redis lost that job, by the sweeper over the durable
 * wake-up written before the order; a reminder goes out half-way through the outbox. An
 * acceptance racing the escalation never lets both win.
 */
import { expect } from '../../support/expect';
import { ctx, deleteRedisKeys } from '../../support/context';
import { http } from '../../support/factories';
import { bullPrefix } from '../../../src/platform/queues';
import { clock } from '../../../src/platform/clock';
import { Notification } from '../../../src/modules/notifications/notifications.model';
import {
  OrderWakeup,
  ServiceOrderEvent,
} from '../../../src/modules/service-orders/service-orders.model';
import {
  ORDER_SWEEP_QUEUE,
  ORDER_TIMER_QUEUE,
  orderTimerJobId,
  serviceOrderJobs,
} from '../../../src/modules/service-orders/service-orders.jobs';
import {
  reconcileOrder,
  runOrderTimer,
  sweepOrderWakeups,
} from '../../../src/modules/service-orders/service-orders.reconcile';
import { dispatchDue } from '../../../src/modules/notifications/notifications.service';
import { createTeam, addMember } from '../../../src/modules/teams/teams.service';
import { runWorkers, type RunningWorkers } from '../../../workers/runner';
import { eventually, recordingSender, resetClock, shiftClock } from '../submissions/scene';
import { makeServiceScene, ok, order, step } from './scene';

function startOrderWorkers(queues: string[], sweepEveryMs = 200): Promise<RunningWorkers> {
  const defs = serviceOrderJobs({ sweepEveryMs }).filter((d) => queues.includes(d.queue));
  return runWorkers(defs, {
    redisUrl: ctx().redisUrl,
    redisPrefix: ctx().config.redisPrefix,
    logger: ctx().logger,
  });
}

async function eventOf(orderId: string, slot: string) {
  return (await ServiceOrderEvent.findById(`${orderId}:${slot}`).lean()) ?? undefined;
}

describe('service order timeouts and escalation (O2)', () => {
  let workers: RunningWorkers | undefined;
  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    resetClock();
  });

  it('escalates an order nobody accepts when its timeout passes (the delayed job), tells the household, and puts it in the township’s queue', async function () {
    this.timeout(60_000);
    const s = await makeServiceScene({ orderTimeout: 'PT2S' });
    workers = await startOrderWorkers([ORDER_TIMER_QUEUE]);
    const o = await order(s);
    await ok(s, o.id, 'dispatch', { teamId: s.team.id });
    const escalation = await eventually(
      () => eventOf(o.id, 'r1-outcome'),
      'the escalation',
      30_000,
      50,
    );
    expect(escalation.type).to.equal('escalated');
    const timeoutAt = Date.parse(o.timeoutAt);
    expect(escalation.at.getTime(), 'never before the timeout').to.be.at.least(timeoutAt);
    process.stdout.write(
      `      (escalated ${escalation.at.getTime() - timeoutAt} ms after the timeout, by the delayed job)\n`,
    );
    // The job's work is done when it deleted the timeout's wake-up (after the message and the cache).
    await eventually(
      async () => (await OrderWakeup.countDocuments({ orderId: o.id })) === 0,
      'the timer job finished',
      30_000,
      50,
    );
    const told = await Notification.findOne({ key: `order-escalated-${o.id}` }).lean();
    expect([told?.kind, told?.householdId]).to.deep.equal([
      'service_order_escalated',
      s.households[2]!.id,
    ]);

    const queue = await http().get('/v1/service-orders?status=escalated').set(s.township.auth);
    expect(queue.body.items.map((x: { id: string }) => x.id)).to.include(o.id);
    const other = await http().get('/v1/service-orders?status=escalated').set(s.otherTownship.auth);
    expect(other.body.items.map((x: { id: string }) => x.id)).to.not.include(o.id);
    // The team can no longer accept it in round 1.
    const late = await step(s, o.id, 'accept', { volunteerIds: [s.volunteers[0]!.id] });
    expect(late.status).to.equal(409);
  });

  it('reminds the household through the outbox half-way to the timeout, once, and not after an acceptance', async () => {
    const s = await makeServiceScene({ orderTimeout: 'PT2H' });
    const o = await order(s);
    const taken = await order(s);
    await ok(s, taken.id, 'dispatch', { teamId: s.team.id });
    await ok(s, taken.id, 'accept', { volunteerIds: [s.volunteers[0]!.id] });
    const early = await runOrderTimer(o.id, 'remind').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(early?.name, 'a timer job that runs early is retried later').to.equal(
      'OrderNotDueError',
    );
    expect(await Notification.countDocuments({ key: `order-remind-${o.id}` })).to.equal(0);
    shiftClock(3600_000 + 1000);
    await Promise.all([
      runOrderTimer(o.id, 'remind'),
      runOrderTimer(o.id, 'remind'),
      sweepOrderWakeups(),
      runOrderTimer(taken.id, 'remind'),
    ]);
    const reminders = await Notification.find({
      key: { $in: [`order-remind-${o.id}`, `order-remind-${taken.id}`] },
    }).lean();
    expect(reminders.map((r) => [r.key, r.kind])).to.deep.equal([
      [`order-remind-${o.id}`, 'service_order_reminder'],
    ]);
    expect(reminders[0]!.body).to.contain('孤寡老人关爱');
    const sender = recordingSender();
    await dispatchDue(sender, { log: ctx().logger });
    expect(
      sender.sent.filter((m) => m.householdId === s.households[2]!.id).map((m) => m.title),
    ).to.include('点单待接单：孤寡老人关爱');
    const view = (await http().get(`/v1/service-orders/${o.id}`).set(s.clerk.auth)).body;
    expect(view.history.map((h: { type: string }) => h.type)).to.deep.equal([
      'ordered',
      'reminded',
    ]);
  });

  it("still escalates on time with this run's Redis keys deleted: the sweeper acts on the durable wake-up", async function () {
    this.timeout(60_000);
    const s = await makeServiceScene({ orderTimeout: 'PT1H' });
    const o = await order(s);
    const timer = ctx().queues.get(ORDER_TIMER_QUEUE);
    expect(await timer.getJobState(orderTimerJobId(o.id, 'timeout'))).to.equal('delayed');
    // No worker runs yet, so nothing can re-create a key between the deletion and the checks.
    await deleteRedisKeys(ctx().redis, bullPrefix(ctx().config.redisPrefix));
    expect(await timer.getJobState(orderTimerJobId(o.id, 'timeout'))).to.equal('unknown');
    expect(await ctx().redis.keys(`${bullPrefix(ctx().config.redisPrefix)}:*`)).to.deep.equal([]);
    expect(await OrderWakeup.countDocuments({ orderId: o.id, kind: 'timeout' })).to.equal(1);

    shiftClock(3600_000 + 1000);
    const shiftedAt = clock.now().getTime();
    // An operator sees it: the overdue timeout is on /metrics until a sweeper acts on it.
    const metrics = (await http().get('/metrics')).text;
    expect(Number(/^service_order_wakeups_overdue (\d+)/m.exec(metrics)?.[1])).to.be.at.least(1);
    workers = await startOrderWorkers([ORDER_TIMER_QUEUE, ORDER_SWEEP_QUEUE], 200);
    const escalation = await eventually(
      () => eventOf(o.id, 'r1-outcome'),
      'the escalation after the deletion',
      30_000,
      50,
    );
    expect(escalation.type).to.equal('escalated');
    expect(escalation.at.getTime()).to.be.at.least(Date.parse(o.timeoutAt));
    process.stdout.write(
      `      (escalated ${escalation.at.getTime() - shiftedAt} ms after the timeout passed, by the sweeper)\n`,
    );
    await eventually(
      async () => (await OrderWakeup.countDocuments({ orderId: o.id })) === 0,
      'the wake-ups settled',
      30_000,
      50,
    );
    // The household hears of the escalation; a reminder whose moment passed unseen is not sent after it.
    expect(await Notification.countDocuments({ key: `order-escalated-${o.id}` })).to.equal(1);
    expect(await Notification.countDocuments({ key: `order-remind-${o.id}` })).to.equal(0);
  });

  it('lets the township dispatch an escalated order to a township team, which accepts it in round 2; it never escalates twice', async () => {
    const s = await makeServiceScene({ orderTimeout: 'PT1H' });
    const o = await order(s);
    shiftClock(3600_000 + 1000);
    await reconcileOrder(o.id);
    const townshipP = {
      id: s.township.user.id,
      kind: 'person' as const,
      role: 'township' as const,
      townshipId: s.townshipId,
      villageIds: [s.villageId, s.village2Id],
    };
    const team = await createTeam(townshipP, {
      name: '镇扶贫帮困队',
      category: 'care',
      level: 'township',
    });
    await addMember(townshipP, team.id, s.volunteers[0]!.id);
    expect((await step(s, o.id, 'dispatch', { teamId: team.id }, s.otherTownship)).status).to.equal(
      404,
    );
    const d = await ok(s, o.id, 'dispatch', { teamId: team.id }, s.township);
    expect([d.status, d.round, d.escalated]).to.deep.equal(['dispatched', 2, true]);
    shiftClock(10 * 3600_000);
    await reconcileOrder(o.id);
    const a = await ok(s, o.id, 'accept', { volunteerIds: [s.volunteers[0]!.id] }, s.township);
    expect([a.status, a.round]).to.deep.equal(['accepted', 2]);
  });

  it('an acceptance racing the escalation at the timeout: exactly one of them wins, every time', async function () {
    this.timeout(120_000);
    const s = await makeServiceScene({ orderTimeout: 'PT1H' });
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      resetClock();
      const o = await order(s);
      await ok(s, o.id, 'dispatch', { teamId: s.team.id });
      shiftClock(3600_000);
      const [accept] = await Promise.all([
        step(s, o.id, 'accept', { volunteerIds: [s.volunteers[0]!.id] }),
        reconcileOrder(o.id),
        reconcileOrder(o.id),
      ]);
      const outcome = (await eventOf(o.id, 'r1-outcome'))!;
      expect(
        accept.status === 200,
        `accept answered ${accept.status} with outcome ${outcome.type}`,
      ).to.equal(outcome.type === 'accepted');
      const final = (await http().get(`/v1/service-orders/${o.id}`).set(s.clerk.auth)).body;
      expect(final.status).to.equal(outcome.type === 'accepted' ? 'accepted' : 'escalated');
      outcomes.push(outcome.type);
    }
    expect(outcomes.every((t) => t === 'accepted' || t === 'escalated')).to.equal(true);
  });
});
