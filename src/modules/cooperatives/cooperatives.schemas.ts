import { z } from '../../platform/validation';

export const cooperativeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    villageIds: z.array(z.string()),
    createdAt: z.string(),
  })
  .openapi('Cooperative');
