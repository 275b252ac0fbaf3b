/** What the API shows of a service order, and the lists of orders a caller may read. */
import { Types } from 'mongoose';
import { notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { findTeam, isMember, managesTeam } from '../teams/teams.service';
import { orderSlots, type OrderStatus } from './service-order-state';
import { ServiceOrder, type ServiceOrderDoc } from './service-orders.model';
import type { ReconciledOrder } from './service-orders.reconcile';
import type { z } from '../../platform/validation';
import type { orderSchema } from './service-orders.schemas';

/** An order as the API shows it: the shape its response schema declares (one declaration). */
export type OrderView = z.infer<typeof orderSchema>;

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

export function toOrderView(r: ReconciledOrder): OrderView {
  const { order: o, state, events } = r;
  const rated = events.find((e) => e.slot === orderSlots.rated);
  const view: OrderView = {
    id: o._id.toHexString(),
    status: state.status,
    round: state.round,
    escalated: state.escalated,
    escalatedAt: iso(state.escalatedAt),
    householdId: o.householdId,
    villageId: o.villageId,
    itemCode: o.itemCode,
    itemName: o.itemName,
    categoryCode: o.categoryCode,
    categoryName: o.categoryName,
    detail: o.detail,
    wantedBy: o.wantedBy,
    orderTimeout: o.orderTimeout,
    timeoutAt: o.timeoutAt.toISOString(),
    teamId: state.teamId ?? null,
    dispatchedAt: iso(state.dispatchedAt),
    volunteerIds: state.volunteerIds,
    acceptedAt: iso(state.acceptedAt),
    hours: state.hours.map((h) => ({ volunteerId: h.volunteerId, hours: h.hours })),
    servedOn: state.servedOn ?? null,
    completedAt: iso(state.completedAt),
    stars: state.stars ?? null,
    comment: rated?.comment ?? null,
    ratedAt: iso(state.ratedAt),
    submissions: state.hours
      .filter((h) => h.householdId)
      .flatMap((h) => {
        const filed = events.find((e) => e.slot === orderSlots.filed(h.volunteerId));
        if (!filed) return [];
        return [
          {
            volunteerId: h.volunteerId,
            householdId: h.householdId!,
            submissionId: filed.submissionId ?? null,
            ...(filed.skipped ? { skipped: filed.skipped } : {}),
          },
        ];
      }),
    history: events.map((e) => {
      const h: OrderView['history'][number] = { type: e.type, at: e.at.toISOString() };
      if (e.by) h.by = e.by;
      if (e.byRole) h.byRole = e.byRole;
      if (e.teamId) h.teamId = e.teamId;
      if (e.round !== undefined && e.round !== null) h.round = e.round;
      return h;
    }),
    createdBy: o.createdBy,
    createdAt: o.createdAt.toISOString(),
  };
  if (o.townshipId) view.townshipId = o.townshipId;
  return view;
}

/** A list row: the cached state (the single read reconciles). */
export function toOrderListView(o: ServiceOrderDoc) {
  return {
    id: o._id.toHexString(),
    status: o.status,
    round: o.round,
    escalated: Boolean(o.escalatedAt),
    householdId: o.householdId,
    villageId: o.villageId,
    itemCode: o.itemCode,
    itemName: o.itemName,
    categoryCode: o.categoryCode,
    detail: o.detail,
    wantedBy: o.wantedBy,
    timeoutAt: o.timeoutAt.toISOString(),
    teamId: o.teamId ?? null,
    stars: o.stars ?? null,
    createdAt: o.createdAt.toISOString(),
  };
}

export interface OrderListQuery {
  /** A team's members list the open orders their team may claim (its place, its category). */
  openFor?: string;
  status?: OrderStatus;
  villageId?: string;
  teamId?: string;
  before?: string;
  limit?: number;
}

/**
 * Orders a caller may read, newest first: a village's people their village's (a household its
 * own), a township station its villages' (`status=escalated` is its queue of escalated orders),
 * a team member their team's (`teamId`), the county office any.
 */
export async function listOrders(p: Principal, q: OrderListQuery) {
  if (q.openFor) return listOpenFor(p, q.openFor, q);
  const filter: Record<string, unknown> = {};
  if (q.teamId) {
    const member = Boolean(p.volunteerId && (await isMember(q.teamId, p.volunteerId)));
    if (!member && p.role !== 'admin' && p.role !== 'township' && p.role !== 'clerk')
      throw notFound('team');
    filter.teamId = q.teamId;
  }
  if (q.villageId && !reachesVillage(p, q.villageId)) throw notFound('village');
  if (q.villageId) filter.villageId = q.villageId;
  if (p.role === 'township' && !q.villageId) filter.townshipId = p.townshipId;
  if (p.role === 'household' && !(q.teamId && filter.teamId)) filter.householdId = p.householdId;
  if (['clerk', 'council', 'supervisor'].includes(p.role)) filter.villageId = p.villageId;
  if (q.status) filter.status = q.status;
  if (q.before) filter._id = { $lt: new Types.ObjectId(q.before) };
  const limit = q.limit ?? 50;
  const docs = await ServiceOrder.find(filter)
    .sort({ _id: -1 })
    .limit(limit + 1)
    .lean<ServiceOrderDoc[]>();
  const items = docs.slice(0, limit).map(toOrderListView);
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}

/** Open orders (ordered, or escalated and awaiting the township) a team may claim. */
async function listOpenFor(p: Principal, teamId: string, q: OrderListQuery) {
  const team = await findTeam(teamId);
  const member = Boolean(team && p.volunteerId && (await isMember(teamId, p.volunteerId)));
  if (!team || !(member || managesTeam(p, team))) throw notFound('team');
  const filter: Record<string, unknown> = {
    categoryCode: team.category,
    status: { $in: ['ordered', 'escalated'] },
  };
  if (team.level === 'village') filter.villageId = team.villageId;
  else if (team.level === 'township') filter.townshipId = team.townshipId;
  else filter.countyId = team.countyId;
  if (q.before) filter._id = { $lt: new Types.ObjectId(q.before) };
  const limit = q.limit ?? 50;
  const docs = await ServiceOrder.find(filter)
    .sort({ _id: -1 })
    .limit(limit + 1)
    .lean<ServiceOrderDoc[]>();
  const items = docs.slice(0, limit).map(toOrderListView);
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}
