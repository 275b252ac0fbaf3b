/**
 * Service menus per county. Invariants: category codes are unique in a menu, and item codes are
 * unique across the whole menu (an order names only its item). A menu is configuration, replaced
 * whole by the county office; orders keep the item they were placed for.
 */
import { clock } from '../../platform/clock';
import { isDuplicateKeyError, validationError, type FieldError } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { resolveCounty } from '../levels/levels.views';
import { DEMO_MENU } from './service-menu.demo';
import { ServiceMenu, type MenuCategory, type ServiceMenuDoc } from './service-menu.model';
import type { z } from '../../platform/validation';
import type { menuSchema } from './service-menu.schemas';

export type MenuView = z.infer<typeof menuSchema>;

const copy = (categories: readonly MenuCategory[]): MenuCategory[] =>
  categories.map((c) => ({
    code: c.code,
    name: c.name,
    items: c.items.map((i) => ({ code: i.code, name: i.name })),
  }));

export async function findMenu(countyId: string): Promise<ServiceMenuDoc | undefined> {
  return (await ServiceMenu.findById(countyId).lean<ServiceMenuDoc>()) ?? undefined;
}

/** An item of a county's menu with its category, or undefined. */
export async function findMenuItem(
  countyId: string,
  itemCode: string,
): Promise<{ category: MenuCategory; item: { code: string; name: string } } | undefined> {
  const menu = await findMenu(countyId);
  for (const category of menu?.categories ?? []) {
    const item = category.items.find((i) => i.code === itemCode);
    if (item) return { category, item };
  }
  return undefined;
}

/** Whether a county's menu has this category (teams are made by category). */
export async function hasCategory(countyId: string, categoryCode: string): Promise<boolean> {
  return Boolean((await findMenu(countyId))?.categories.some((c) => c.code === categoryCode));
}

/** The menu of the caller's county (an empty menu when none was set). */
export async function getServiceMenu(p: Principal, countyId?: string): Promise<MenuView> {
  const id = await resolveCounty(p, countyId);
  const menu = await findMenu(id);
  return {
    countyId: id,
    categories: copy(menu?.categories ?? []),
    updatedAt: menu ? menu.updatedAt.toISOString() : null,
  };
}

function checkMenu(categories: readonly MenuCategory[]): void {
  const errors: FieldError[] = [];
  const cats = new Set<string>();
  const codes = new Set<string>();
  categories.forEach((c, i) => {
    if (cats.has(c.code)) errors.push({ path: `categories.${i}.code`, message: 'listed twice' });
    cats.add(c.code);
    c.items.forEach((it, j) => {
      if (codes.has(it.code))
        errors.push({
          path: `categories.${i}.items.${j}.code`,
          message: 'an item code may appear once in the menu',
        });
      codes.add(it.code);
    });
  });
  if (errors.length) throw validationError(errors);
}

/** Replaces a county's menu (the county office). */
export async function setServiceMenu(
  p: Principal,
  input: { countyId?: string; categories: MenuCategory[] },
): Promise<MenuView> {
  const countyId = await resolveCounty(p, input.countyId);
  checkMenu(input.categories);
  await ServiceMenu.updateOne(
    { _id: countyId },
    { $set: { categories: copy(input.categories), updatedBy: p.id, updatedAt: clock.now() } },
    { upsert: true },
  );
  return getServiceMenu(p, countyId);
}

/** Seeds the demo menu for a county that has none; idempotent. */
export async function seedDemoMenu(countyId: string): Promise<boolean> {
  try {
    await ServiceMenu.create([
      {
        _id: countyId,
        categories: copy(DEMO_MENU),
        updatedBy: 'demo-seed',
        updatedAt: clock.now(),
      },
    ]);
    return true;
  } catch (err) {
    if (isDuplicateKeyError(err)) return false;
    throw err;
  }
}
