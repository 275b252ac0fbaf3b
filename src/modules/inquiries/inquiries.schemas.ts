import { z } from '../../platform/validation';

/** A credit look-up of a household, as the household and its staff see it. */
export const inquirySchema = z
  .object({
    id: z.string(),
    officerId: z.string().optional(),
    officerName: z.string(),
    cooperativeId: z.string(),
    cooperativeName: z.string(),
    purpose: z.string(),
    result: z.string(),
    at: z.string(),
  })
  .openapi('Inquiry');
