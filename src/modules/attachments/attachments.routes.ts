import type { Api } from '../../platform/http';
import { id, obj, z } from '../../platform/validation';
import { ATTACHMENT_TYPES, createAttachment, readAttachment } from './attachments.service';
import { attachmentSchema } from './attachments.schemas';

export function attachmentRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/attachments',
      summary: 'Upload an evidence photo (base64; at most 700 KiB) for a submission of the village',
      tag: 'Submissions',
      auth: ['admin', 'clerk'],
      body: obj({
        villageId: id(),
        contentType: z.enum(ATTACHMENT_TYPES),
        data: z
          .string()
          .min(4)
          .max(1_000_000)
          .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64'),
      }),
      responses: { 201: { description: 'Stored', schema: attachmentSchema } },
    },
    async ({ principal, body }) => ({ status: 201, body: await createAttachment(principal, body) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/attachments/:id',
      summary: 'An evidence photo (the village’s clerk and council, the county office)',
      tag: 'Submissions',
      auth: ['admin', 'clerk', 'council'],
      params: obj({ id: id() }),
      responses: { 200: { description: 'The image', schema: z.string(), contentType: 'image/*' } },
    },
    async ({ principal, params }) => {
      const a = await readAttachment(principal, params.id);
      return {
        status: 200,
        body: a.data,
        contentType: a.contentType,
        headers: {
          'Cache-Control': 'private, max-age=86400, immutable',
          'X-Content-Type-Options': 'nosniff',
          ETag: `"${a.sha256}"`,
        },
      };
    },
  );
}
