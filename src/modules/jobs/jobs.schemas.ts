import { z } from '../../platform/validation';

export const failedJobSchema = z
  .object({
    queue: z.string(),
    id: z.string(),
    name: z.string(),
    data: z.unknown(),
    failedReason: z.string(),
    attemptsMade: z.number().int(),
    createdAt: z.string(),
    failedAt: z.string().nullable(),
  })
  .openapi('FailedJob');
