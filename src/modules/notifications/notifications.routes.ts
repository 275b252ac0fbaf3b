import type { Api } from '../../platform/http';
import { id, obj, queryInt, z } from '../../platform/validation';
import { householdInReach } from '../households/households.service';
import { listNotifications } from './notifications.service';
import { notificationSchema } from './notifications.schemas';

export function notificationRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/households/:id/notifications',
      summary:
        "A household's messages (deduction notices, postings, appeal outcomes), newest first",
      tag: 'Notifications',
      auth: ['admin', 'clerk', 'household'],
      params: obj({ id: id() }),
      query: obj({ limit: queryInt(1, 200).optional(), before: id().optional() }),
      responses: {
        200: {
          description: 'A page of messages',
          schema: z.object({ items: z.array(notificationSchema), next: z.string().nullable() }),
        },
      },
    },
    async ({ principal, params, query }) => {
      await householdInReach(principal, params.id);
      return {
        status: 200,
        body: await listNotifications(params.id, query.limit ?? 50, query.before),
      };
    },
  );
}
