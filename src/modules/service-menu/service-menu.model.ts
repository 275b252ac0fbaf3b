/**
 * A county's service menu (点单菜单): the categories of volunteer service households order from
 * and their items. One document per county (`_id` = countyId), read by primary key when an order
 * is placed. Orders copy the item's code and name, so changing the menu never alters an order.
 */
import mongoose, { Schema } from 'mongoose';
import type { z } from '../../platform/validation';
import type { menuCategorySchema } from './service-menu.schemas';

export type MenuCategory = z.infer<typeof menuCategorySchema>;
export type MenuItem = MenuCategory['items'][number];

export interface ServiceMenuDoc {
  _id: string;
  categories: MenuCategory[];
  updatedBy: string;
  updatedAt: Date;
}

const itemSchema = new Schema<MenuItem>(
  { code: { type: String, required: true }, name: { type: String, required: true } },
  { _id: false },
);
const categorySchema = new Schema<MenuCategory>(
  {
    code: { type: String, required: true },
    name: { type: String, required: true },
    items: { type: [itemSchema], default: [] },
  },
  { _id: false },
);
const menuSchema = new Schema<ServiceMenuDoc>(
  {
    _id: { type: String, required: true },
    categories: { type: [categorySchema], default: [] },
    updatedBy: { type: String, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'service_menus', versionKey: false, strict: 'throw' },
);
export const ServiceMenu = mongoose.model<ServiceMenuDoc>('ServiceMenu', menuSchema);
