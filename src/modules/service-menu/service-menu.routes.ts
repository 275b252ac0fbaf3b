import type { Api } from '../../platform/http';
import { id, obj, text, z } from '../../platform/validation';
import { getServiceMenu, setServiceMenu } from './service-menu.service';
import { menuSchema } from './service-menu.schemas';

const CODE_RE = /^[A-Za-z0-9_-]{1,32}$/;
const code = () => z.string().regex(CODE_RE, '1–32 letters, digits, - or _');

const setMenuBody = obj({
  countyId: id().optional(),
  categories: z
    .array(
      obj({
        code: code(),
        name: text(32),
        items: z.array(obj({ code: code(), name: text(64) })).max(100),
      }),
    )
    .min(1)
    .max(40),
});

const READERS = ['admin', 'township', 'clerk', 'council', 'supervisor', 'household'] as const;

export function serviceMenuRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/service-menu',
      summary: "The county's service menu (点单菜单): categories and items",
      tag: 'Volunteer service',
      auth: READERS,
      query: obj({ countyId: id().optional() }),
      responses: { 200: { description: 'The menu', schema: menuSchema } },
    },
    async ({ principal, query }) => ({
      status: 200,
      body: await getServiceMenu(principal, query.countyId),
    }),
  );
  api.route(
    {
      method: 'put',
      path: '/v1/service-menu',
      summary: "Replace a county's service menu (orders keep the item they were placed for)",
      tag: 'Volunteer service',
      auth: ['admin'],
      body: setMenuBody,
      responses: { 200: { description: 'The menu', schema: menuSchema } },
    },
    async ({ principal, body }) => ({ status: 200, body: await setServiceMenu(principal, body) }),
  );
}
