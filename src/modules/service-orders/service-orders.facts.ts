/**
 * What the monthly rankings need of a county's service orders, derived from each order's events
 * (the truth), not from the cached state: who ordered when, which team accepted when, when it was
 * rated with how many stars, and the hours given. A job-sized read: the county's orders (a scan
 * on FerretDB-SQLite), then each candidate's events by primary key.
 */
import { orderSlots } from './service-order-state';
import { ServiceOrder, type ServiceOrderDoc } from './service-orders.model';
import { loadOrderEvents, stateOf } from './service-orders.records';

/** Orders of one county read for a ranking. */
const COUNTY_ORDERS_MAX = 2_000_000;
const CONCURRENCY = 16;

export interface OrderFacts {
  orderId: string;
  householdId: string;
  villageId: string;
  townshipId?: string;
  orderedAt: Date;
  /** The team whose acceptance stands (after an escalation, the township's dispatch). */
  teamId?: string;
  acceptedAt?: Date;
  ratedAt?: Date;
  stars?: number;
  hours: number;
}

async function factsOf(o: ServiceOrderDoc): Promise<OrderFacts> {
  const events = await loadOrderEvents(o._id.toHexString());
  const state = stateOf(o, events);
  const ordered = events.find((e) => e.slot === orderSlots.ordered);
  const f: OrderFacts = {
    orderId: o._id.toHexString(),
    householdId: o.householdId,
    villageId: o.villageId,
    orderedAt: ordered?.at ?? o.createdAt,
    hours: state.ratedAt ? state.hours.reduce((a, h) => a + h.hours, 0) : 0,
  };
  if (o.townshipId) f.townshipId = o.townshipId;
  if (state.acceptedAt) Object.assign(f, { teamId: state.teamId, acceptedAt: state.acceptedAt });
  if (state.ratedAt) Object.assign(f, { ratedAt: state.ratedAt, stars: state.stars });
  return f;
}

/**
 * Facts of the county's orders that can matter for [from, to): ordered before `to`, and not
 * rated before `from` (an order rated earlier is settled: nothing of it falls in the month).
 */
export async function orderFactsOfCounty(
  countyId: string,
  from: Date,
  to: Date,
): Promise<OrderFacts[]> {
  const docs = (
    await ServiceOrder.find({ countyId })
      .sort({ _id: 1 })
      .limit(COUNTY_ORDERS_MAX)
      .lean<ServiceOrderDoc[]>()
  ).filter((o) => !(o.ratedAt && o.ratedAt.getTime() < from.getTime()));
  const out: OrderFacts[] = [];
  for (let i = 0; i < docs.length; i += CONCURRENCY)
    out.push(...(await Promise.all(docs.slice(i, i + CONCURRENCY).map(factsOf))));
  return out.filter((f) => f.orderedAt.getTime() < to.getTime());
}
