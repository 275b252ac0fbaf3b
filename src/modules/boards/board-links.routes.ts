import type { Api } from '../../platform/http';
import { id, line, obj, z } from '../../platform/validation';
import {
  boardDisplay,
  createBoardLink,
  listBoardLinks,
  revokeBoardLink,
} from './board-links.service';
import { boardsSchema, monthQuery } from './boards.schemas';
import { linkSchema } from './boards.schemas';

/** Who manages a village's screens: the county office, the village clerk, its township station. */
const MANAGERS = ['admin', 'clerk', 'township'] as const;
export const BOARD_LINK_LABEL_MAX = 40;

export function boardLinkRoutes(api: Api): void {
  manageRoutes(api);
  api.route(
    {
      method: 'get',
      path: '/v1/board-display',
      summary: "A station screen's boards, opened by its board link instead of a sign-in",
      tag: 'Boards',
      auth: 'public',
      query: monthQuery,
      requestHeaders: z.object({
        'board-link': z.string().openapi({
          description:
            'The secret of a board link (POST /v1/villages/{id}/board-links). Sent as a header, never in the URL, so it stays out of access logs.',
        }),
      }),
      responses: {
        200: {
          description: "The link's village's boards of the month, with the village's name",
          schema: boardsSchema.extend({ villageName: z.string(), label: z.string() }),
        },
        401: {
          description: 'No board link, an unknown one, or a revoked one (`board_link_invalid`)',
        },
      },
    },
    async ({ headers, query }) => {
      const given = headers['board-link'];
      return {
        status: 200,
        body: await boardDisplay(typeof given === 'string' ? given : undefined, query.month),
      };
    },
  );
}

function manageRoutes(api: Api): void {
  const villageParams = obj({ id: id() });
  api.route(
    {
      method: 'post',
      path: '/v1/villages/:id/board-links',
      summary: 'Create a board link for one station screen (its secret is shown only now)',
      tag: 'Boards',
      auth: MANAGERS,
      params: villageParams,
      body: obj({ label: line(BOARD_LINK_LABEL_MAX) }),
      responses: {
        201: {
          description: 'The link and its secret; the service keeps only the secret’s hash',
          schema: linkSchema.extend({ secret: z.string() }),
        },
      },
    },
    async ({ principal, params, body }) => ({
      status: 201,
      body: await createBoardLink(principal, params.id, body.label),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/villages/:id/board-links',
      summary: "A village's board links, newest first (never their secrets)",
      tag: 'Boards',
      auth: MANAGERS,
      params: villageParams,
      responses: {
        200: { description: 'Links', schema: z.object({ items: z.array(linkSchema) }) },
      },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await listBoardLinks(principal, params.id),
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/villages/:id/board-links/:linkId/revocation',
      summary: 'Revoke a board link: its screen stops at its next refresh',
      tag: 'Boards',
      auth: MANAGERS,
      params: obj({ id: id(), linkId: id() }),
      responses: { 200: { description: 'The revoked link', schema: linkSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await revokeBoardLink(principal, params.id, params.linkId),
    }),
  );
}
