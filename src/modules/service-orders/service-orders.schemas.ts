import { calendarDate } from '../rules/rules.schemas';
import { id, obj, queryInt, text, z } from '../../platform/validation';
import { ORDER_STATUSES } from './service-order-state';
import { ORDER_VOLUNTEERS_MAX } from './service-orders.service';

/** Hours one volunteer gives on one order, in half hours (a day's service is well under 24). */
export const ORDER_HOURS_MAX = 24;

export const createOrderBody = obj({
  householdId: id(),
  itemCode: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'an item code of the service menu'),
  /** What is wanted and where (送到哪里、需要什么). */
  detail: text(500),
  /** When: a date YYYY-MM-DD or an ISO-8601 time. */
  wantedBy: z
    .string()
    .regex(
      /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?$/,
      'a date YYYY-MM-DD or an ISO-8601 time',
    ),
});

export const dispatchBody = obj({ teamId: id() });
export const acceptBody = obj({ volunteerIds: z.array(id()).min(1).max(ORDER_VOLUNTEERS_MAX) });
export const completeBody = obj({
  hours: z
    .array(
      obj({
        volunteerId: id(),
        hours: z.number().positive().max(ORDER_HOURS_MAX).multipleOf(0.5, 'in half hours'),
      }),
    )
    .min(1)
    .max(ORDER_VOLUNTEERS_MAX),
  /** The day of service (default: today); the hours rule in force on it scores the points. */
  servedOn: calendarDate().optional(),
});
export const rateBody = obj({
  stars: z.number().int().min(1).max(5),
  comment: text(500).optional(),
});

export const listOrdersQuery = obj({
  /** A team's open orders it may claim (for its members and managers). */
  openFor: id().optional(),
  status: z.enum(ORDER_STATUSES).optional(),
  villageId: id().optional(),
  teamId: id().optional(),
  before: id().optional(),
  limit: queryInt(1, 200).optional(),
});

export const idParams = obj({ id: id() });

export const orderSchema = z
  .object({
    id: z.string(),
    status: z.enum(ORDER_STATUSES),
    round: z.number().int(),
    escalated: z.boolean(),
    escalatedAt: z.string().nullable(),
    householdId: z.string(),
    villageId: z.string(),
    townshipId: z.string().optional(),
    itemCode: z.string(),
    itemName: z.string(),
    categoryCode: z.string(),
    categoryName: z.string(),
    detail: z.string(),
    wantedBy: z.string(),
    orderTimeout: z.string(),
    timeoutAt: z.string(),
    teamId: z.string().nullable(),
    dispatchedAt: z.string().nullable(),
    volunteerIds: z.array(z.string()),
    acceptedAt: z.string().nullable(),
    hours: z.array(z.object({ volunteerId: z.string(), hours: z.number() })),
    servedOn: z.string().nullable(),
    completedAt: z.string().nullable(),
    stars: z.number().int().nullable(),
    comment: z.string().nullable(),
    ratedAt: z.string().nullable(),
    /** One per volunteer with a household once the order is rated: the submission filed, or why none. */
    submissions: z.array(
      z.object({
        volunteerId: z.string(),
        householdId: z.string(),
        submissionId: z.string().nullable(),
        skipped: z.string().optional(),
      }),
    ),
    history: z.array(
      z.object({
        type: z.string(),
        at: z.string(),
        by: z.string().optional(),
        byRole: z.string().optional(),
        teamId: z.string().optional(),
        round: z.number().int().optional(),
      }),
    ),
    createdBy: z.string(),
    createdAt: z.string(),
  })
  .openapi('ServiceOrder');

export const orderListSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      status: z.enum(ORDER_STATUSES),
      round: z.number().int(),
      escalated: z.boolean(),
      householdId: z.string(),
      villageId: z.string(),
      itemCode: z.string(),
      itemName: z.string(),
      categoryCode: z.string(),
      detail: z.string(),
      wantedBy: z.string(),
      timeoutAt: z.string(),
      teamId: z.string().nullable(),
      stars: z.number().int().nullable(),
      createdAt: z.string(),
    }),
  ),
  next: z.string().nullable(),
});
