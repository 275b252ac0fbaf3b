import { z } from '../../platform/validation';

export const townshipSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    county: z.string(),
    countyId: z.string(),
    villageIds: z.array(z.string()),
  })
  .openapi('Township');
