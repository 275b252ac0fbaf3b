import { z } from '../../platform/validation';

export const attachmentSchema = z
  .object({
    id: z.string(),
    ref: z.string().openapi({ description: 'Put this in a submission’s evidence.attachments' }),
    villageId: z.string(),
    contentType: z.string(),
    bytes: z.number().int(),
    sha256: z.string(),
    createdAt: z.string(),
  })
  .openapi('Attachment');
