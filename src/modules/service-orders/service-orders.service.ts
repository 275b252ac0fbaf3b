/**
 * The volunteer service loop: a household (or its clerk) orders a service from the county's
 * menu (点单), the station dispatches it to a team or a team claims it (派单), the team accepts
 * and names its volunteers (接单), marks it done with each volunteer's hours, and the requester
 * rates it (评单). A rated order turns into hours records and, for each volunteer with a
 * household, a submission under the village's hours rule in force on the day of service.
 *
 * Invariants:
 * - O1 every step is an append-only event in its slot (service-order-state.ts); a step out of
 *   order is `conflict`, and two racing steps for one slot never both succeed (an acceptance and
 *   the escalation share one).
 * - O2 an order not accepted within the village's orderTimeout escalates, also when Redis lost
 *   its delayed job: the timeout's wake-up is written before the order, and the sweeper acts on it.
 * - O3 a rated order records each volunteer's hours exactly once and files exactly one
 *   submission per volunteer with a household (keyed), however often it is reconciled.
 * - O4 who may act: the requesting household or its village's clerk (or township station)
 *   orders; the village's clerk, its township station or the county office dispatches, or a
 *   member of an eligible team claims; the team's members (or the clerk, township, county
 *   office for them) accept and complete; the requester or the clerk rates. Another village's
 *   or township's orders are `not_found`.
 */
import { todayUtc } from '../../platform/clock';
import { DomainError, forbidden, notFound, validationError } from '../../platform/errors';
import { type Principal } from '../../platform/principal';
import { findHousehold } from '../households/households.service';
import { findTeam, isMember } from '../teams/teams.service';
import { findVolunteer } from '../volunteers/volunteers.service';
import {
  orderSlots,
  refuseCommand,
  type HoursLine,
  type OrderCommand,
} from './service-order-state';
import { type ServiceOrderDoc } from './service-orders.model';
import {
  deleteOrderWakeup,
  findOrder,
  insertOrderEvent,
  openOrderGuard,
  wakeupIdOf,
  type NewOrderEvent,
} from './service-orders.records';
import { orderFaults } from '../../platform/faults';
import { reconcileOrder, type OrderDeps, type ReconciledOrder } from './service-orders.reconcile';
import { toOrderView, type OrderView } from './service-orders.views';
import {
  actsAsTeamMember,
  actsForVillage,
  canSeeOrder,
  checkTeamAction,
  orderInReach,
  teamFits,
  teamServes,
} from './service-orders.reach';

export { canSeeOrder } from './service-orders.reach';
export { createOrder, type NewOrder } from './service-orders.ordering';

/** Volunteers named on one order: a team turns out a few, a big clean-up a few dozen. */
export const ORDER_VOLUNTEERS_MAX = 50;

/** Reconciles first (a due escalation is recorded before anyone acts), then checks the step. */
async function current(
  o: ServiceOrderDoc,
  command: OrderCommand | undefined,
  deps: OrderDeps,
): Promise<ReconciledOrder> {
  const r = (await reconcileOrder(o._id.toHexString(), deps))!;
  if (command) {
    const why = refuseCommand(r.state, command);
    if (why) throw new DomainError('order_step_out_of_order', why, { status: r.state.status });
  }
  return r;
}

/** Fills the command's slot; a lost race is a `conflict` (O1). Returns the order after it. */
async function record(
  o: ServiceOrderDoc,
  e: NewOrderEvent,
  deps: OrderDeps,
  lost: string,
): Promise<ReconciledOrder> {
  const id = o._id.toHexString();
  if (!(await insertOrderEvent(id, e))) {
    await reconcileOrder(id, deps);
    throw new DomainError('order_step_already_taken', lost);
  }
  return (await reconcileOrder(id, deps))!;
}

// ---------------------------------------------------------------------------------------------
// 派单: dispatching (or a team claiming the order)

export async function dispatchOrder(
  p: Principal,
  orderId: string,
  input: { teamId: string },
  deps: OrderDeps = {},
): Promise<OrderView> {
  const found = await findOrder(orderId);
  const team = await findTeam(input.teamId);
  // A member of a team that fits may claim an order it could not otherwise see: an open order
  // is open to every team serving the village in its category.
  const claimant = Boolean(
    found &&
    !actsForVillage(p, found.villageId) &&
    teamFits(team, found) &&
    (await actsAsTeamMember(p, input.teamId)),
  );
  if (!found || !(claimant || (await canSeeOrder(p, found)))) throw notFound('service order');
  const o = found;
  if (!team || !teamServes(team, o))
    throw validationError([{ path: 'teamId', message: 'not a team that serves this village' }]);
  if (team.category !== o.categoryCode)
    throw validationError([
      {
        path: 'teamId',
        message: `the team serves ${team.category}, the order is ${o.categoryCode}`,
      },
    ]);
  const claiming = !actsForVillage(p, o.villageId);
  if (claiming && !claimant)
    throw forbidden(
      'The station dispatches an order; a team claims it through one of its members.',
    );
  const { state } = await current(o, 'dispatch', deps);
  const round = state.round;
  const e: NewOrderEvent = {
    slot: orderSlots.dispatch(round),
    type: 'dispatched',
    round,
    teamId: input.teamId,
    by: p.id,
    byRole: claiming ? 'team_member' : p.role,
  };
  const r = await record(o, e, deps, 'The order has already been dispatched.');
  if (r.state.round !== round)
    throw new DomainError(
      'order_escalated_meanwhile',
      'The order escalated to the township station while it was being dispatched; dispatch it again.',
    );
  return toOrderView(r);
}

// ---------------------------------------------------------------------------------------------
// 接单: the team accepts and names its volunteers

function uniqueIds(ids: readonly string[], path: string): void {
  const seen = new Set<string>();
  ids.forEach((v, i) => {
    if (seen.has(v)) throw validationError([{ path: `${path}.${i}`, message: 'listed twice' }]);
    seen.add(v);
  });
}

export async function acceptOrder(
  p: Principal,
  orderId: string,
  input: { volunteerIds: string[] },
  deps: OrderDeps = {},
): Promise<OrderView> {
  const o = await orderInReach(p, orderId);
  const { state } = await current(o, 'accept', deps);
  const teamId = state.teamId!;
  const byRole = await checkTeamAction(p, o, teamId);
  uniqueIds(input.volunteerIds, 'volunteerIds');
  const members = await Promise.all(input.volunteerIds.map((v) => isMember(teamId, v)));
  const outsider = members.indexOf(false);
  if (outsider >= 0)
    throw validationError([
      { path: `volunteerIds.${outsider}`, message: 'not a member of the dispatched team' },
    ]);
  const round = state.round;
  const e: NewOrderEvent = {
    slot: orderSlots.outcome(round),
    type: 'accepted',
    round,
    teamId,
    volunteerIds: input.volunteerIds,
    by: p.id,
    byRole,
  };
  const r = await record(
    o,
    e,
    deps,
    round === 1
      ? 'The order was already accepted, or it escalated to the township station.'
      : 'The order was already accepted.',
  );
  const id = o._id.toHexString();
  if (r.state.round === round) {
    // O2 settled: no reminder or escalation is due any more.
    await deleteOrderWakeup(wakeupIdOf('remind', id));
    await deleteOrderWakeup(wakeupIdOf('timeout', id));
  }
  return toOrderView(r);
}

// ---------------------------------------------------------------------------------------------
// The team marks it done with each volunteer's hours

export async function completeOrder(
  p: Principal,
  orderId: string,
  input: { hours: { volunteerId: string; hours: number }[]; servedOn?: string },
  deps: OrderDeps = {},
): Promise<OrderView> {
  const o = await orderInReach(p, orderId);
  const { state } = await current(o, 'complete', deps);
  const byRole = await checkTeamAction(p, o, state.teamId!);
  uniqueIds(
    input.hours.map((h) => h.volunteerId),
    'hours',
  );
  input.hours.forEach((h, i) => {
    if (!state.volunteerIds.includes(h.volunteerId))
      throw validationError([
        {
          path: `hours.${i}.volunteerId`,
          message: 'not a volunteer named when the order was accepted',
        },
      ]);
  });
  const servedOn = input.servedOn ?? todayUtc();
  if (servedOn > todayUtc())
    throw validationError([{ path: 'servedOn', message: 'must not be in the future' }]);
  if (servedOn < o.createdAt.toISOString().slice(0, 10))
    throw validationError([
      { path: 'servedOn', message: 'must not be before the order was placed' },
    ]);
  // Each volunteer's household as it is now: the submission goes to that household's village.
  const lines: HoursLine[] = await Promise.all(
    input.hours.map(async (h) => {
      const v = await findVolunteer(h.volunteerId);
      const household = v?.householdId ? await findHousehold(v.householdId) : undefined;
      return {
        volunteerId: h.volunteerId,
        hours: h.hours,
        ...(household
          ? { householdId: household._id.toHexString(), villageId: household.villageId }
          : {}),
      };
    }),
  );
  const e: NewOrderEvent = {
    slot: orderSlots.completed,
    type: 'completed',
    hours: lines,
    servedOn,
    by: p.id,
    byRole,
  };
  return toOrderView(await record(o, e, deps, 'The order has already been completed.'));
}

// ---------------------------------------------------------------------------------------------
// 评单: the requester rates it; the hours are recorded and the submissions filed

export async function rateOrder(
  p: Principal,
  orderId: string,
  input: { stars: number; comment?: string },
  deps: OrderDeps = {},
): Promise<OrderView> {
  const o = await orderInReach(p, orderId);
  const byRequester = p.role === 'household' && p.householdId === o.householdId;
  if (!byRequester && !(p.role === 'clerk' && p.villageId === o.villageId))
    throw forbidden('The requesting household (or its clerk) rates the service.');
  await current(o, 'rate', deps);
  const id = o._id.toHexString();
  // O3: a guard first, so a rating that dies before its hours and submissions are done is finished.
  const guard = await openOrderGuard(id);
  const e: NewOrderEvent = {
    slot: orderSlots.rated,
    type: 'rated',
    stars: input.stars,
    by: p.id,
    byRole: p.role,
  };
  if (input.comment) e.comment = input.comment;
  if (!(await insertOrderEvent(id, e))) {
    await deleteOrderWakeup(guard);
    throw new DomainError('order_already_rated', 'The order has already been rated.');
  }
  orderFaults.afterRated?.(id);
  const r = (await reconcileOrder(id, deps))!;
  await deleteOrderWakeup(guard);
  return toOrderView(r);
}

export async function getOrder(
  p: Principal,
  orderId: string,
  deps: OrderDeps = {},
): Promise<OrderView> {
  const o = await orderInReach(p, orderId);
  return toOrderView(await current(o, undefined, deps));
}
