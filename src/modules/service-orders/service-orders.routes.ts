import type { Api } from '../../platform/http';
import type { Logger } from '../../platform/logger';
import type { Queues } from '../../platform/queues';
import { enqueueNoticeWith } from '../submissions/submissions.jobs';
import { enqueueOrderTimerWith } from './service-orders.jobs';
import type { OrderDeps } from './service-orders.reconcile';
import {
  acceptBody,
  completeBody,
  createOrderBody,
  dispatchBody,
  idParams,
  listOrdersQuery,
  orderListSchema,
  orderSchema,
  rateBody,
} from './service-orders.schemas';
import {
  acceptOrder,
  completeOrder,
  createOrder,
  dispatchOrder,
  getOrder,
  rateOrder,
} from './service-orders.service';
import { listOrders } from './service-orders.views';

/** Everyone who takes part in the loop; the service checks what each may do with an order. */
const LOOP = ['admin', 'township', 'clerk', 'council', 'household'] as const;
const READERS = ['admin', 'township', 'clerk', 'council', 'supervisor', 'household'] as const;

const ok = { 200: { description: 'The order', schema: orderSchema } };

/** The loop's dependencies for one request (its logger). */
type Deps = (log: Logger) => OrderDeps;

export function serviceOrderRoutes(api: Api, deps: { queues: Queues }): void {
  const enqueueTimer = enqueueOrderTimerWith(deps.queues);
  const enqueuePost = enqueueNoticeWith(deps.queues);
  const orderDeps: Deps = (log) => ({
    enqueueTimer,
    council: { enqueuePost, log },
    log,
  });
  orderingRoutes(api, orderDeps);
  teamStepRoutes(api, orderDeps);
  ratingRoutes(api, orderDeps);
}

/** 点单: placing an order, and reading the orders in reach. */
function orderingRoutes(api: Api, orderDeps: Deps): void {
  api.route(
    {
      method: 'post',
      path: '/v1/service-orders',
      summary: 'Order a service from the menu (点单): the household for itself, or its clerk',
      tag: 'Volunteer service',
      auth: ['household', 'clerk', 'township'],
      body: createOrderBody,
      responses: { 201: { description: 'Ordered', schema: orderSchema } },
    },
    async ({ principal, body, log }) => ({
      status: 201,
      body: await createOrder(principal, body, orderDeps(log)),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/service-orders',
      summary: 'Orders in reach, newest first (a township: status=escalated is its queue)',
      tag: 'Volunteer service',
      auth: READERS,
      query: listOrdersQuery,
      responses: {
        200: {
          description: 'A page; `next` is the `before` of the next page',
          schema: orderListSchema,
        },
      },
    },
    async ({ principal, query }) => ({ status: 200, body: await listOrders(principal, query) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/service-orders/:id',
      summary: 'An order with its whole history',
      tag: 'Volunteer service',
      auth: READERS,
      params: idParams,
      responses: ok,
    },
    async ({ principal, params, log }) => ({
      status: 200,
      body: await getOrder(principal, params.id, orderDeps(log)),
    }),
  );
}

/** The team's steps: 派单 (dispatch or claim), 接单 (accept), and marking the order done. */
function teamStepRoutes(api: Api, orderDeps: Deps): void {
  api.route(
    {
      method: 'post',
      path: '/v1/service-orders/:id/dispatch',
      summary:
        'Dispatch to a team (派单: clerk, township, admin), or a team member claims it for their team',
      tag: 'Volunteer service',
      auth: LOOP,
      params: idParams,
      body: dispatchBody,
      responses: ok,
    },
    async ({ principal, params, body, log }) => ({
      status: 200,
      body: await dispatchOrder(principal, params.id, body, orderDeps(log)),
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/service-orders/:id/accept',
      summary:
        'The team accepts and names its volunteers (接单: a team member, or the clerk for it)',
      tag: 'Volunteer service',
      auth: LOOP,
      params: idParams,
      body: acceptBody,
      responses: ok,
    },
    async ({ principal, params, body, log }) => ({
      status: 200,
      body: await acceptOrder(principal, params.id, body, orderDeps(log)),
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/service-orders/:id/complete',
      summary: "Mark it done with each volunteer's hours",
      tag: 'Volunteer service',
      auth: LOOP,
      params: idParams,
      body: completeBody,
      responses: ok,
    },
    async ({ principal, params, body, log }) => ({
      status: 200,
      body: await completeOrder(principal, params.id, body, orderDeps(log)),
    }),
  );
}

/** 评单: the requester rates the service, which files the hours as points. */
function ratingRoutes(api: Api, orderDeps: Deps): void {
  api.route(
    {
      method: 'post',
      path: '/v1/service-orders/:id/rating',
      summary:
        'Rate it 1–5 (评单: the requesting household or its clerk); files the hours as points',
      tag: 'Volunteer service',
      auth: ['household', 'clerk'],
      params: idParams,
      body: rateBody,
      responses: ok,
    },
    async ({ principal, params, body, log }) => ({
      status: 200,
      body: await rateOrder(principal, params.id, body, orderDeps(log)),
    }),
  );
}
