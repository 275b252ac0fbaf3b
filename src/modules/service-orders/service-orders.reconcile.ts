/**
 * Reconciling a service order: derive its state from the events and perform the step they (and
 * the clock) already justify: the reminder, the escalation, recording a rated order's hours and
 * filing its submissions. Run by the request that changed the order, by the delayed timer jobs
 * and by the sweeper over durable wake-ups; idempotent and safe to run concurrently, because
 * every step fills a slot and everything it writes elsewhere is keyed (hours by order and
 * volunteer, submissions by filing key, notifications by key, milestones by volunteer and hours).
 */
import assert from 'node:assert/strict';
import { clock } from '../../platform/clock';
import { orderFaults } from '../../platform/faults';
import type { Logger } from '../../platform/logger';
import { findHousehold } from '../households/households.service';
import { findTownship } from '../levels/levels.service';
import { queueNotification } from '../notifications/notifications.service';
import { fileKeyedSubmission, type CouncilDeps } from '../submissions/submissions.service';
import { findVillage, orderPolicyOf } from '../villages/villages.service';
import {
  findVolunteer,
  hoursOf,
  pendingMilestones,
  recordHours,
  recordMilestone,
} from '../volunteers/volunteers.service';
import { orderSlots, type HoursLine, type OrderState } from './service-order-state';
import {
  OrderWakeup,
  type OrderWakeupDoc,
  type ServiceOrderDoc,
  type ServiceOrderEventDoc,
} from './service-orders.model';
import {
  deleteOrderWakeup,
  findOrder,
  insertOrderEvent,
  loadOrderEvents,
  stateOf,
  updateOrderCache,
  wakeupIdOf,
} from './service-orders.records';

/** The rule of the county catalogue that commends a volunteer's milestone (demo: 志愿服务时长表彰). */
export const MILESTONE_RULE_CODE = 'volunteer-milestone';
/** Wake-ups read per sweeper batch. */
const SWEEP_BATCH = 200;
const SWEEP_CONCURRENCY = 8;

/** Schedules the delayed job that reminds or escalates an order (BullMQ in the API). */
export type EnqueueOrderTimer = (
  orderId: string,
  kind: 'remind' | 'timeout',
  at: Date,
) => Promise<void>;

export interface OrderDeps {
  enqueueTimer?: EnqueueOrderTimer;
  /** How filed submissions schedule the end of their notice. */
  council?: CouncilDeps;
  log?: Logger;
}

export interface ReconciledOrder {
  order: ServiceOrderDoc;
  events: ServiceOrderEventDoc[];
  state: OrderState;
}

/** Thrown by a timer job that ran before its time (clocks apart): BullMQ retries it later. */
export class OrderNotDueError extends Error {
  constructor(readonly dueAt: Date) {
    super(`not due before ${dueAt.toISOString()}`);
    this.name = 'OrderNotDueError';
  }
}

async function remind(order: ServiceOrderDoc): Promise<void> {
  const id = order._id.toHexString();
  await queueNotification({
    key: `order-remind-${id}`,
    householdId: order.householdId,
    villageId: order.villageId,
    kind: 'service_order_reminder',
    title: `点单待接单：${order.itemName}`,
    body: `您点的“${order.itemName}”服务还没有志愿服务队接单，已提醒村新时代文明实践站尽快派单。`,
  });
  await insertOrderEvent(id, { slot: orderSlots.reminder, type: 'reminded' });
}

async function escalate(order: ServiceOrderDoc, deps: OrderDeps): Promise<void> {
  const id = order._id.toHexString();
  // The same slot an acceptance fills: whichever insert comes first decides.
  const won = await insertOrderEvent(id, {
    slot: orderSlots.outcome(1),
    type: 'escalated',
    round: 1,
    at: clock.now(),
  });
  if (!won) return;
  const township = order.townshipId ? (await findTownship(order.townshipId))?.name : undefined;
  await queueNotification({
    key: `order-escalated-${id}`,
    householdId: order.householdId,
    villageId: order.villageId,
    kind: 'service_order_escalated',
    title: `点单已转乡镇：${order.itemName}`,
    body: `您点的“${order.itemName}”服务在规定时间内未被接单，已转${township ?? '乡镇'}新时代文明实践所派单。`,
  });
  deps.log?.info(
    { orderId: id, townshipId: order.townshipId },
    'service order escalated to the township',
  );
}

/** Files the commendations of milestones a volunteer has reached and not yet recorded. */
async function ensureMilestones(
  volunteerId: string,
  orderId: string,
  date: string,
  deps: OrderDeps,
): Promise<void> {
  const pending = await pendingMilestones(volunteerId, await hoursOf(volunteerId));
  if (!pending.length) return;
  const v = await findVolunteer(volunteerId);
  const household = v?.householdId ? await findHousehold(v.householdId) : undefined;
  for (const hours of pending) {
    let outcome: { submissionId?: string; skipped?: string } = { skipped: 'no_household' };
    if (household && v) {
      const r = await fileKeyedSubmission(
        {
          key: `milestone:${volunteerId}:${hours}`,
          villageId: household.villageId,
          householdId: household._id.toHexString(),
          ruleCode: MILESTONE_RULE_CODE,
          occurredOn: date,
          evidenceText: `志愿者${v.name}志愿服务时长累计达到${hours}小时，提请村道德评议会表彰。`,
          volunteerId,
          milestoneHours: hours,
          skipVote: false,
        },
        deps.council,
      );
      outcome = 'submission' in r ? { submissionId: r.submission.id } : { skipped: r.skipped };
    }
    await recordMilestone({ volunteerId, hours, orderId, reachedAt: clock.now(), ...outcome });
  }
}

async function recordAllHours(
  order: ServiceOrderDoc,
  state: OrderState,
  deps: OrderDeps,
): Promise<void> {
  const id = order._id.toHexString();
  for (const h of state.hours)
    await recordHours({
      volunteerId: h.volunteerId,
      orderId: id,
      hours: h.hours,
      date: state.servedOn!,
    });
  orderFaults.afterHoursRecorded?.(id);
  for (const h of state.hours) await ensureMilestones(h.volunteerId, id, state.servedOn!, deps);
  await insertOrderEvent(id, { slot: orderSlots.hours, type: 'hours_recorded' });
}

/** Files the submission of one volunteer's hours in their household's village, once. */
async function fileHours(
  order: ServiceOrderDoc,
  state: OrderState,
  h: HoursLine,
  deps: OrderDeps,
): Promise<void> {
  const id = order._id.toHexString();
  const village = await findVillage(h.villageId!);
  const policy = village ? orderPolicyOf(village) : undefined;
  const result = policy
    ? await fileKeyedSubmission(
        {
          key: `service-order:${id}:${h.volunteerId}`,
          villageId: h.villageId!,
          householdId: h.householdId!,
          ruleCode: policy.hoursRuleCode,
          quantity: h.hours,
          occurredOn: state.servedOn!,
          evidenceText: `志愿服务：${order.itemName}（服务单${id}，${state.servedOn}，${h.hours}小时，群众评价${state.stars}星）`,
          serviceOrderId: id,
          volunteerId: h.volunteerId,
          skipVote: policy.ratedHoursNeedNoVote,
        },
        deps.council,
      )
    : ({ skipped: 'household_not_in_village' } as const);
  orderFaults.afterFiled?.(id, h.volunteerId);
  await insertOrderEvent(id, {
    slot: orderSlots.filed(h.volunteerId),
    type: 'filed',
    volunteerId: h.volunteerId,
    ...('submission' in result
      ? { submissionId: result.submission.id }
      : { skipped: result.skipped }),
  });
}

/**
 * Brings an order up to date: performs every due step until none is left and refreshes the
 * cache. Returns undefined for an order that does not exist.
 */
export async function reconcileOrder(
  orderId: string,
  deps: OrderDeps = {},
): Promise<ReconciledOrder | undefined> {
  const order = await findOrder(orderId);
  if (!order) return undefined;
  let events = await loadOrderEvents(orderId);
  if (!events.some((e) => e.slot === orderSlots.ordered)) {
    // An order whose request died after storing it: record its ordering as it happened.
    await insertOrderEvent(orderId, {
      slot: orderSlots.ordered,
      type: 'ordered',
      by: order.createdBy,
      byRole: order.createdByRole,
      at: order.createdAt,
    });
    events = await loadOrderEvents(orderId);
  }
  let state = stateOf(order, events);
  for (let step = 0; state.next; step++) {
    assert.ok(step < 20, 'an order reconcile converges');
    switch (state.next) {
      case 'remind':
        await remind(order);
        break;
      case 'escalate':
        await escalate(order, deps);
        break;
      case 'record_hours':
        await recordAllHours(order, state, deps);
        break;
      case 'file':
        for (const h of state.unfiled) await fileHours(order, state, h, deps);
        break;
    }
    events = await loadOrderEvents(orderId);
    state = stateOf(order, events);
  }
  await updateOrderCache(order, state);
  return { order, events, state };
}

/** Whether the work a wake-up stands for is done (then it may be deleted). */
export function orderWakeupSettled(
  w: Pick<OrderWakeupDoc, 'kind'>,
  r: ReconciledOrder | undefined,
): boolean {
  if (!r) return true;
  const decided =
    r.state.escalated ||
    r.state.round === 2 ||
    r.events.some((e) => e.slot === orderSlots.outcome(1));
  if (w.kind === 'timeout') return decided;
  if (w.kind === 'remind') return decided || r.state.reminded;
  return !r.state.next;
}

/** The delayed timer job's work: remind or escalate, once; early (clocks apart) → retried. */
export async function runOrderTimer(
  orderId: string,
  kind: 'remind' | 'timeout',
  deps: OrderDeps = {},
): Promise<{ status: string }> {
  const r = await reconcileOrder(orderId, deps);
  if (orderWakeupSettled({ kind }, r)) {
    await deleteOrderWakeup(wakeupIdOf(kind, orderId));
    return { status: r?.state.status ?? 'missing' };
  }
  const dueAt = kind === 'timeout' ? r!.order.timeoutAt : r!.order.remindAt;
  if (clock.now().getTime() < dueAt.getTime()) throw new OrderNotDueError(dueAt);
  return { status: r!.state.status };
}

function nextLook(w: OrderWakeupDoc, r: ReconciledOrder | undefined, failed: boolean): Date {
  const now = clock.now().getTime();
  if (failed) return new Date(now + Math.min(3600_000, 5000 * 2 ** Math.min(w.failures, 10)));
  const due =
    w.kind === 'timeout'
      ? r?.order.timeoutAt.getTime()
      : w.kind === 'remind'
        ? r?.order.remindAt.getTime()
        : undefined;
  return new Date(due && due > now ? due : now + 5000);
}

/**
 * One sweeper run: reconciles every order with a due wake-up (a reminder or timeout whose job
 * Redis lost, a rating that crashed halfway), in bounded batches, and deletes each wake-up whose
 * work is done. This is what escalates an order on time when its delayed job is gone.
 */
export async function sweepOrderWakeups(
  deps: OrderDeps & { budgetMs?: number } = {},
): Promise<{ reconciled: number; settled: number; failed: number }> {
  const totals = { reconciled: 0, settled: 0, failed: 0 };
  const deadline = Date.now() + (deps.budgetMs ?? 30_000);
  for (;;) {
    const due = await OrderWakeup.find({ at: { $lte: clock.now() } })
      .sort({ at: 1 })
      .limit(SWEEP_BATCH)
      .lean<OrderWakeupDoc[]>();
    if (!due.length) break;
    for (let i = 0; i < due.length; i += SWEEP_CONCURRENCY) {
      await Promise.all(due.slice(i, i + SWEEP_CONCURRENCY).map((w) => sweepOne(w, deps, totals)));
    }
    if (due.length < SWEEP_BATCH || Date.now() > deadline) break;
  }
  return totals;
}

async function sweepOne(
  w: OrderWakeupDoc,
  deps: OrderDeps,
  totals: { reconciled: number; settled: number; failed: number },
): Promise<void> {
  let r: ReconciledOrder | undefined;
  try {
    r = await reconcileOrder(w.orderId, deps);
    totals.reconciled++;
  } catch (err) {
    totals.failed++;
    deps.log?.error(
      { err, orderId: w.orderId, wakeup: w._id },
      'order reconcile failed; will look again with backoff',
    );
    await OrderWakeup.updateOne(
      { _id: w._id },
      { $set: { at: nextLook(w, undefined, true), failures: w.failures + 1 } },
    );
    return;
  }
  if (orderWakeupSettled(w, r)) {
    await deleteOrderWakeup(w._id);
    totals.settled++;
  } else {
    await OrderWakeup.updateOne({ _id: w._id }, { $set: { at: nextLook(w, r, false) } });
  }
}

/** Wake-ups overdue by more than `olderThanMs` (an operator should look). */
export async function countOverdueOrderWakeups(olderThanMs: number): Promise<number> {
  return OrderWakeup.countDocuments({
    at: { $lte: new Date(clock.now().getTime() - olderThanMs) },
  });
}
