import { z } from '../../platform/validation';

/** A category of the menu and its items, as stored (service-menu.model.ts) and shown. */
export const menuCategorySchema = z.object({
  code: z.string(),
  name: z.string(),
  items: z.array(z.object({ code: z.string(), name: z.string() })),
});

export const menuSchema = z
  .object({
    countyId: z.string(),
    categories: z.array(menuCategorySchema),
    updatedAt: z.string().nullable(),
  })
  .openapi('ServiceMenu');
