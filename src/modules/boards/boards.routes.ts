import type { Api } from '../../platform/http';
import { id, line, obj, z } from '../../platform/validation';
import { getBoardSettings, getBoards, setBoardConsent, setBoardSettings } from './boards.service';
import { boardsSchema, consentSchema, monthQuery, settingsSchema } from './boards.schemas';

const VILLAGE = ['admin', 'clerk', 'council', 'household', 'township', 'supervisor'] as const;
const idParams = obj({ id: id() });
/** Longest a village may keep a name on the black list: a year after the appeal window. */
export const RETENTION_DAYS_MAX = 365;

export function boardRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/villages/:id/boards',
      summary: 'Red and black lists (红黑榜) of a month',
      tag: 'Boards',
      auth: VILLAGE,
      params: idParams,
      query: monthQuery,
      responses: {
        200: {
          description: 'Households by points; names masked unless consented',
          schema: boardsSchema,
        },
      },
    },
    async ({ principal, params, query }) => ({
      status: 200,
      body: await getBoards(principal, params.id, query.month),
    }),
  );
  settingsRoutes(api);
  consentRoutes(api);
}

/** A village's board settings: read by the village, changed by its clerk or the county office. */
function settingsRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/villages/:id/board-settings',
      summary: "A village's board settings",
      tag: 'Boards',
      auth: VILLAGE,
      params: idParams,
      responses: { 200: { description: 'Settings', schema: settingsSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getBoardSettings(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'put',
      path: '/v1/villages/:id/board-settings',
      summary: 'Switch the black list on or off and set how long names stay on it',
      tag: 'Boards',
      auth: ['admin', 'clerk'],
      params: idParams,
      body: obj({
        blackListEnabled: z.boolean().optional(),
        blackListRetentionDays: z.number().int().min(1).max(RETENTION_DAYS_MAX).optional(),
      }),
      responses: { 200: { description: 'Settings', schema: settingsSchema } },
    },
    async ({ principal, params, body }) => ({
      status: 200,
      body: await setBoardSettings(principal, params.id, body),
    }),
  );
}

/** A household's consent to be named in full on the boards. */
function consentRoutes(api: Api): void {
  api.route(
    {
      method: 'put',
      path: '/v1/households/:id/board-consent',
      summary: 'Whether the household may be named in full on the village boards',
      tag: 'Boards',
      auth: ['admin', 'clerk', 'household'],
      params: idParams,
      body: obj({ named: z.boolean(), formRef: line(100).optional() }),
      responses: {
        200: {
          description: 'The consent',
          schema: consentSchema,
        },
      },
    },
    async ({ principal, params, body }) => ({
      status: 200,
      body: await setBoardConsent(principal, params.id, body),
    }),
  );
}
