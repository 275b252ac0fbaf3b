/**
 * The service-order loop (群众点单 → 中心派单 → 队伍接单 → 群众评单) as a pure function of its
 * recorded events: no database, table-tested. Built like submission-state.ts.
 *
 * An order's truth is its append-only events; each decision point has a *slot* that at most one
 * event fills (the event's `_id` is `<orderId>:<slot>`), so racing writers are arbitrated by the
 * insert and this function never sees two answers to one question:
 *
 *   ordered            the household (or its clerk) ordered an item of the menu
 *   r{n}-dispatch      round n's dispatch to a team (by the station, or a team claiming it)
 *   r{n}-outcome       round n's outcome: `accepted` (the team named its volunteers) or, in
 *                      round 1 only, `escalated` (not accepted within the village's
 *                      orderTimeout). One slot for both: an acceptance and the timeout racing
 *                      each other cannot both win. An escalation opens round 2, in which the
 *                      township station dispatches again and only acceptance can follow.
 *   reminder           the reminder half-way to the timeout was queued
 *   completed          the team marked it done with each volunteer's hours
 *   rated              the requester rated it 1–5
 *   hours-recorded     the hours went into each volunteer's hours record (and milestones)
 *   filed-{volunteer}  the submission filed for a volunteer's household (or why none was)
 *
 * `next` names the step the events and the time already justify but which has not happened yet
 * (the reminder is due, the timeout passed, a rated order's hours are not yet recorded or
 * filed). Whoever reconciles the order (the request itself, the delayed job, the sweeper)
 * performs it; every step fills a slot, so doing it twice is harmless.
 */

export const ORDER_STATUSES = [
  'ordered',
  'dispatched',
  'accepted',
  'completed',
  'rated',
  'escalated',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_EVENT_TYPES = [
  'ordered',
  'dispatched',
  'accepted',
  'escalated',
  'reminded',
  'completed',
  'rated',
  'hours_recorded',
  'filed',
] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

/** A volunteer's hours on a completed order, with their household as it was at completion. */
export interface HoursLine {
  volunteerId: string;
  hours: number;
  /** The volunteer's household (absent: a volunteer from outside the village). */
  householdId?: string;
  /** That household's village, where the submission is filed. */
  villageId?: string;
}

/** The fields of an event that the state depends on. */
export interface OrderEvent {
  slot: string;
  type: OrderEventType;
  at: Date;
  round?: number;
  teamId?: string;
  volunteerIds?: string[];
  hours?: HoursLine[];
  servedOn?: string;
  stars?: number;
  volunteerId?: string;
}

export type OrderStep = 'remind' | 'escalate' | 'record_hours' | 'file';

export interface OrderState {
  status: OrderStatus;
  /** 1, or 2 after an escalation. */
  round: number;
  escalated: boolean;
  escalatedAt?: Date;
  teamId?: string;
  dispatchedAt?: Date;
  volunteerIds: string[];
  acceptedAt?: Date;
  hours: HoursLine[];
  servedOn?: string;
  completedAt?: Date;
  stars?: number;
  ratedAt?: Date;
  reminded: boolean;
  hoursRecorded: boolean;
  /** Volunteers with a household whose submission has not been filed (or skipped) yet. */
  unfiled: HoursLine[];
  next?: OrderStep;
}

export interface OrderTiming {
  now: Date;
  /** When the reminder is due (half the timeout). */
  remindAt: Date;
  /** When an order not accepted escalates. */
  timeoutAt: Date;
}

export const orderSlots = {
  ordered: 'ordered',
  dispatch: (round: number) => `r${round}-dispatch`,
  outcome: (round: number) => `r${round}-outcome`,
  reminder: 'reminder',
  completed: 'completed',
  rated: 'rated',
  hours: 'hours-recorded',
  filed: (volunteerId: string) => `filed-${volunteerId}`,
} as const;

/** Every slot an order can have whose name does not depend on a volunteer. */
export const FIXED_ORDER_SLOTS: readonly string[] = [
  orderSlots.ordered,
  orderSlots.dispatch(1),
  orderSlots.outcome(1),
  orderSlots.dispatch(2),
  orderSlots.outcome(2),
  orderSlots.reminder,
  orderSlots.completed,
  orderSlots.rated,
  orderSlots.hours,
];

export function deriveOrderState(events: readonly OrderEvent[], timing: OrderTiming): OrderState {
  const bySlot = new Map<string, OrderEvent>();
  for (const e of events) bySlot.set(e.slot, e);
  const first = bySlot.get(orderSlots.outcome(1));
  const escalation = first?.type === 'escalated' ? first : undefined;
  const round = escalation ? 2 : 1;
  const dispatch = bySlot.get(orderSlots.dispatch(round));
  const outcome = bySlot.get(orderSlots.outcome(round));
  const accepted = outcome?.type === 'accepted' ? outcome : undefined;
  // A completion or rating is only ever recorded after the step before it (the service checks).
  const completed = accepted ? bySlot.get(orderSlots.completed) : undefined;
  const rated = completed ? bySlot.get(orderSlots.rated) : undefined;

  const state: OrderState = {
    status: 'ordered',
    round,
    escalated: Boolean(escalation),
    volunteerIds: accepted?.volunteerIds ? [...accepted.volunteerIds] : [],
    hours: completed?.hours ? completed.hours.map((h) => ({ ...h })) : [],
    reminded: bySlot.has(orderSlots.reminder),
    hoursRecorded: bySlot.has(orderSlots.hours),
    unfiled: [],
  };
  if (escalation) state.escalatedAt = escalation.at;
  if (dispatch) Object.assign(state, { teamId: dispatch.teamId, dispatchedAt: dispatch.at });
  if (accepted) state.acceptedAt = accepted.at;
  if (completed) Object.assign(state, { completedAt: completed.at, servedOn: completed.servedOn });
  if (rated) Object.assign(state, { ratedAt: rated.at, stars: rated.stars });

  if (rated) state.status = 'rated';
  else if (completed) state.status = 'completed';
  else if (accepted) state.status = 'accepted';
  else if (dispatch) state.status = 'dispatched';
  else if (escalation) state.status = 'escalated';

  if (rated) {
    state.unfiled = state.hours.filter(
      (h) => h.householdId && !bySlot.has(orderSlots.filed(h.volunteerId)),
    );
    if (!state.hoursRecorded) state.next = 'record_hours';
    else if (state.unfiled.length) state.next = 'file';
  } else if (round === 1 && !outcome) {
    if (timing.now.getTime() >= timing.timeoutAt.getTime()) state.next = 'escalate';
    else if (!state.reminded && timing.now.getTime() >= timing.remindAt.getTime())
      state.next = 'remind';
  }
  return state;
}

export type OrderCommand = 'dispatch' | 'accept' | 'complete' | 'rate';

/** Which status each command needs: a step out of order is a `conflict`. */
const NEEDS: Record<OrderCommand, readonly OrderStatus[]> = {
  dispatch: ['ordered', 'escalated'],
  accept: ['dispatched'],
  complete: ['accepted'],
  rate: ['completed'],
};

/** Why a command cannot be applied now (undefined: it can). */
export function refuseCommand(
  state: Pick<OrderState, 'status' | 'next'>,
  command: OrderCommand,
): string | undefined {
  // The timeout passed but nobody recorded the escalation yet: the order is escalated already.
  if (state.next === 'escalate' && (command === 'accept' || command === 'dispatch')) {
    return 'The order was not accepted in time and has gone to the township station.';
  }
  if (NEEDS[command].includes(state.status)) return undefined;
  return `The order is ${state.status}; ${command} needs it ${NEEDS[command].join(' or ')}.`;
}
