/**
 * A county's service menu (点单菜单): the categories of volunteer service households order from
 * and their items. One document per county (`_id` = countyId), read by primary key when an order
 * is placed. Orders copy the item's code and name, so changing the menu never alters an order.
 */
import mongoose, { Schema } from 'mongoose';

export interface MenuItem {
  code: string;
  name: string;
}

export interface MenuCategory {
  code: string;
  name: string;
  items: MenuItem[];
}

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
