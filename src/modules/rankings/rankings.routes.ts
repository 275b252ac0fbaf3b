import type { Api } from '../../platform/http';
import { id, obj, z } from '../../platform/validation';
import { RANKING_LEVELS } from './rankings.formula';
import { getRanking } from './rankings.service';
import { rankingSchema } from './rankings.schemas';

export function rankingRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/rankings',
      summary:
        'Monthly evaluation index (考评指数) of township stations, village stations or teams; formula in docs/rankings.md',
      tag: 'Volunteer service',
      auth: ['admin', 'township', 'clerk', 'council', 'supervisor', 'household'],
      query: obj({
        period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM'),
        level: z.enum(RANKING_LEVELS),
        countyId: id().optional(),
      }),
      responses: {
        200: {
          description:
            'The ranking (a finished month: stored; the running month: computed now, `final: false`)',
          schema: rankingSchema,
        },
      },
    },
    async ({ principal, query }) => ({ status: 200, body: await getRanking(principal, query) }),
  );
}
