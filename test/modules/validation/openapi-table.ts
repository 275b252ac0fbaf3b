/**
 * Reads the service's own /openapi.json and turns every route that takes a body into a table
 * row: method, a concrete URL (path parameters filled with real ids where the resource is
 * known), the headers of a caller allowed to call it, a body the route should accept, and the
 * body's schema to derive bad bodies from. New routes join the table without a line here;
 * `VALID_BODIES` only makes the base body of known routes exact.
 */
import { Types } from 'mongoose';
import { randomBytes } from 'node:crypto';
import {
  http,
  makeAdmin,
  makeCooperative,
  makeHousehold,
  makeStore,
  makeTerminal,
  makeUser,
  makeVillage,
  unique,
} from '../../support/factories';
import type { Role } from '../../../src/platform/principal';
import { DEMO_MENU } from '../../../src/modules/service-menu/service-menu.demo';
import { seedDemoMenu } from '../../../src/modules/service-menu/service-menu.service';
import { createTeam } from '../../../src/modules/teams/teams.service';
import { registerVolunteer } from '../../../src/modules/volunteers/volunteers.service';
import { hasher, systemAdmin, testIdNumber } from '../service-orders/scene';

export type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  additionalProperties?: boolean | JsonSchema;
};

export interface OpenApiDoc {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        description?: string;
        security?: unknown[];
        requestBody?: { content: Record<string, { schema: JsonSchema }> };
        parameters?: { name: string; in: string; schema: JsonSchema }[];
      }
    >
  >;
  components?: { schemas?: Record<string, JsonSchema> };
}

/**
 * How many refused requests of one route a table sends at once. Each is refused on its own, so
 * their order is no matter; side by side, a table's time is the requests', not their gaps.
 */
export const CASES_AT_ONCE = 8;

export interface Row {
  /** e.g. `POST /v1/households/{id}/adjustments` */
  name: string;
  method: 'post' | 'patch' | 'put';
  url: string;
  headers: Record<string, string>;
  /** The request body's schema, `$ref`s resolved on demand with `resolve`. */
  schema: JsonSchema | undefined;
  /** A body the route should accept (exact for VALID_BODIES routes, generated otherwise). */
  base: Record<string, unknown> | undefined;
  /** True when `base` comes from VALID_BODIES. */
  exact: boolean;
  /** Another accepted body with fresh unique values (exact rows), so `base` itself stays unused. */
  fresh: () => Record<string, unknown> | undefined;
}

export interface World {
  villageId: string;
  townshipId: string;
  countyId: string;
  teamId: string;
  /** Volunteers of the world's household, none of them in the team yet. */
  volunteerIds: string[];
  householdId: string;
  storeId: string;
  terminalId: string;
  cooperativeId: string;
  /** A council member of the village (the account routes' `{id}`). */
  userId: string;
}

/** Bodies known to be accepted, by `METHOD path`; fresh each call so unique fields stay unique. */
export const VALID_BODIES: Record<string, (w: World) => Record<string, unknown>> = {
  'POST /v1/auth/token': () => ({
    grantType: 'password',
    username: unique('nobody'),
    password: 'not-the-password',
  }),
  'POST /v1/villages': () => ({
    name: '新村',
    code: unique('VB'),
    township: '新镇',
    county: '新县',
    policy: { quorum: 2, noticePeriod: 'P7D' },
  }),
  'PATCH /v1/villages/{id}': () => ({ policy: { quorum: 2, noticePeriod: 'P3D' } }),
  'POST /v1/users': (w) => ({
    username: unique('council'),
    password: 'a-long-enough-password',
    role: 'council',
    villageId: w.villageId,
  }),
  'POST /v1/households': (w) => ({
    villageId: w.villageId,
    head: '王五',
    members: [{ name: '赵六' }],
    cardNo: unique('CB'),
  }),
  'POST /v1/households/{id}/adjustments': () => ({ points: 5, reason: '测试调整' }),
  'POST /v1/stores': (w) => ({ name: '公益超市', villageIds: [w.villageId] }),
  'POST /v1/cooperatives': (w) => ({ name: '信用社', villageIds: [w.villageId] }),
  'PATCH /v1/users/{id}': () => ({ disabled: false }),
  'PUT /v1/users/{id}/password': () => ({ newPassword: `pw-${randomBytes(8).toString('hex')}` }),
  'POST /v1/attachments': (w) => ({
    villageId: w.villageId,
    contentType: 'image/jpeg',
    data: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(16)]).toString(
      'base64',
    ),
  }),
  'POST /v1/volunteers': (w) => ({
    name: '王志愿',
    idNumber: testIdNumber(),
    householdId: w.householdId,
    phone: '13900000000',
  }),
  'POST /v1/teams': (w) => ({
    name: '扶贫帮困队',
    category: 'care',
    level: 'village',
    villageId: w.villageId,
  }),
  'POST /v1/teams/{id}/members': (w) => ({
    volunteerId: w.volunteerIds[memberBodies++ % w.volunteerIds.length]!,
  }),
  'POST /v1/service-orders': (w) => ({
    householdId: w.householdId,
    itemCode: 'care-01',
    detail: '请上门打扫卫生',
    wantedBy: new Date(Date.now() + 86_400_000).toISOString().slice(0, 10),
  }),
  'PUT /v1/service-menu': (w) => ({
    countyId: w.countyId,
    categories: DEMO_MENU.map((c) => ({
      code: c.code,
      name: c.name,
      items: c.items.map((i) => ({ ...i })),
    })),
  }),
  'PUT /v1/households/{id}/kinship': () => ({ lineage: '王氏' }),
};
let memberBodies = 0;

export function resolver(doc: OpenApiDoc) {
  return function resolve(s: JsonSchema | undefined): JsonSchema | undefined {
    if (!s?.$ref) return s;
    const name = s.$ref.replace('#/components/schemas/', '');
    return resolve(doc.components?.schemas?.[name]);
  };
}

/** The first JSON type of a schema that is not `null`. */
export function typeOf(s: JsonSchema | undefined): string | undefined {
  if (!s) return undefined;
  if (Array.isArray(s.type)) return s.type.find((t) => t !== 'null');
  if (s.type) return s.type;
  if (s.properties) return 'object';
  return undefined;
}

export function nullable(s: JsonSchema | undefined): boolean {
  return Array.isArray(s?.type) && s.type.includes('null');
}

/** For a oneOf (a discriminated union), the variant whose enum-valued fields match `body`. */
export function objectVariant(
  s: JsonSchema | undefined,
  body: Record<string, unknown> | undefined,
  resolve: (s: JsonSchema | undefined) => JsonSchema | undefined,
): JsonSchema | undefined {
  const r = resolve(s);
  const variants = r?.oneOf ?? r?.anyOf;
  if (!variants) return r;
  const resolved = variants.map((v) => resolve(v)!);
  return (
    resolved.find((v) =>
      Object.entries(v.properties ?? {}).every(
        ([k, p]) => !p.enum || body?.[k] === undefined || p.enum.includes(body[k]),
      ),
    ) ?? resolved[0]
  );
}

const STRING_CANDIDATES = ['SKU-001', 'abc123', 'P7D', 'x', '1', 'a-b_c', 'test@example.org'];

/** A value matching a string schema, from a few candidates; ids become `idFallback`. */
function sampleString(s: JsonSchema, idFallback: string): string {
  if (s.enum?.length) return String(s.enum[0]);
  if (s.pattern) {
    const re = new RegExp(s.pattern);
    if (re.test(idFallback)) return idFallback;
    const hit = STRING_CANDIDATES.find(
      (c) => re.test(c) && c.length >= (s.minLength ?? 0) && c.length <= (s.maxLength ?? Infinity),
    );
    if (hit) return hit;
  }
  const min = Math.max(s.minLength ?? 1, 1);
  return 'x'.repeat(min);
}

/** A plausible body for a route not in VALID_BODIES: required fields only. */
export function sampleBody(
  s: JsonSchema | undefined,
  resolve: (s: JsonSchema | undefined) => JsonSchema | undefined,
  w: World,
  depth = 0,
): unknown {
  const r = objectVariant(s, undefined, resolve);
  if (!r || depth > 6) return undefined;
  switch (typeOf(r)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const k of r.required ?? [])
        out[k] = sampleBody(r.properties?.[k], resolve, w, depth + 1);
      return out;
    }
    case 'array':
      return (r.minItems ?? 0) > 0 ? [sampleBody(r.items, resolve, w, depth + 1)] : [];
    case 'integer':
    case 'number':
      return r.minimum !== undefined && r.minimum > 1 ? r.minimum : 1;
    case 'boolean':
      return true;
    case 'string':
      return sampleString(r, w.villageId);
    default:
      return undefined;
  }
}

/** Builds the shared records the table's URLs and callers point at. */
export async function makeWorld(): Promise<World> {
  const village = await makeVillage();
  const villageId = village.id;
  const householdId = (await makeHousehold(villageId)).id;
  const storeId = (await makeStore([villageId])).id;
  const terminalId = (await makeTerminal(storeId)).id;
  const cooperativeId = (await makeCooperative([villageId])).id;
  await seedDemoMenu(village.countyId!);
  const teamId = (
    await createTeam(systemAdmin, { name: '表格队', category: 'care', level: 'village', villageId })
  ).id;
  const volunteerIds: string[] = [];
  for (const name of ['甲', '乙', '丙'])
    volunteerIds.push(
      (
        await registerVolunteer(
          systemAdmin,
          { name, idNumber: testIdNumber(), householdId },
          hasher(),
        )
      ).id,
    );
  const userId = (await makeUser('council', { villageId })).user.id;
  return {
    villageId,
    userId,
    townshipId: village.townshipId!,
    countyId: village.countyId!,
    teamId,
    volunteerIds,
    householdId,
    storeId,
    terminalId,
    cooperativeId,
  };
}

/** Headers of a caller in `role`, scoped to the world's records; cached per role. */
export function callers(w: World) {
  const cache = new Map<Role, Promise<Record<string, string>>>();
  const make = async (role: Role): Promise<Record<string, string>> => {
    switch (role) {
      case 'admin':
        return (await makeAdmin()).auth;
      case 'clerk':
      case 'council':
      case 'supervisor':
        return (await makeUser(role, { villageId: w.villageId })).auth;
      case 'township':
        return (await makeUser('township', { townshipId: w.townshipId })).auth;
      case 'household':
        return (await makeUser('household', { householdId: w.householdId })).auth;
      case 'officer':
        return (await makeUser('officer', { cooperativeId: w.cooperativeId })).auth;
      case 'terminal':
        return (await makeTerminal(w.storeId)).auth;
    }
  };
  return (role: Role) => {
    if (!cache.has(role)) cache.set(role, make(role));
    return cache.get(role)!;
  };
}

/** Real ids for path parameters: `{id}` by the resource the path starts with. */
function paramValue(path: string, name: string, schema: JsonSchema | undefined, w: World): string {
  if (name === 'id') {
    const resource = path.split('/')[2];
    const known: Record<string, string> = {
      households: w.householdId,
      villages: w.villageId,
      stores: w.storeId,
      cooperatives: w.cooperativeId,
      users: w.userId,
      teams: w.teamId,
      townships: w.townshipId,
    };
    return known[resource ?? ''] ?? new Types.ObjectId().toHexString();
  }
  if (name === 'terminalId') return w.terminalId;
  if (name === 'householdId') return w.householdId;
  if (name === 'villageId') return w.villageId;
  return sampleString(schema ?? { type: 'string' }, new Types.ObjectId().toHexString());
}

/** Every POST/PATCH/PUT route of the spec, ready to call. */
export async function tableRows(): Promise<{ doc: OpenApiDoc; rows: Row[]; world: World }> {
  const res = await http().get('/openapi.json');
  const doc = res.body as OpenApiDoc;
  const resolve = resolver(doc);
  const world = await makeWorld();
  const as = callers(world);
  const rows: Row[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (method !== 'post' && method !== 'patch' && method !== 'put') continue;
      const name = `${method.toUpperCase()} ${path}`;
      const url = path.replace(/\{([A-Za-z]+)\}/g, (_, p: string) =>
        encodeURIComponent(
          paramValue(path, p, op.parameters?.find((x) => x.name === p)?.schema, world),
        ),
      );
      const roles = /^Roles: (.*)$/.exec(op.description ?? '')?.[1]?.split(', ') as
        Role[] | undefined;
      const headers: Record<string, string> = {
        'Idempotency-Key': `table-${randomBytes(8).toString('hex')}`,
      };
      if (roles?.length)
        Object.assign(headers, await as(roles.includes('admin') ? 'admin' : roles[0]!));
      const schema = op.requestBody?.content['application/json']?.schema;
      const known = VALID_BODIES[name];
      const base = known
        ? known(world)
        : schema
          ? (sampleBody(schema, resolve, world) as Record<string, unknown>)
          : undefined;
      rows.push({
        name,
        method,
        url,
        headers,
        schema,
        base,
        exact: Boolean(known),
        fresh: () => known?.(world),
      });
    }
  }
  return { doc, rows, world };
}
