/**
 * Query strings never carry operators to the database: the app's query parser keeps
 * `?status[$ne]=x` as a literal key, and every route refuses keys it did not declare. Driven over
 * every GET route of /openapi.json, with real ids in the path and a caller allowed to call it.
 */
import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { callers, makeWorld, type OpenApiDoc, type World } from './openapi-table';
import type { Role } from '../../../src/platform/principal';
import { Types } from 'mongoose';

describe('query strings on every GET route of /openapi.json', () => {
  let doc: OpenApiDoc;
  let world: World;
  let as: ReturnType<typeof callers>;

  before(async () => {
    doc = (await http().get('/openapi.json')).body as OpenApiDoc;
    world = await makeWorld();
    as = callers(world);
  });

  const urlOf = (path: string) =>
    path.replace(/\{([A-Za-z]+)\}/g, (_, p: string) => {
      const resource = path.split('/')[2];
      if (p === 'id')
        return (
          (
            {
              households: world.householdId,
              villages: world.villageId,
              stores: world.storeId,
              cooperatives: world.cooperativeId,
            } as Record<string, string>
          )[resource ?? ''] ?? new Types.ObjectId().toHexString()
        );
      if (p === 'terminalId') return world.terminalId;
      return 'SKU-001';
    });

  const attacks = [
    'status[$ne]=x',
    'villageId[$ne]=x',
    'villageId[$gt]=',
    'after[$gt]=0',
    'zzUnknown=1',
    '__proto__[x]=1',
    'constructor[prototype][x]=1',
  ];

  it('operator-shaped and undeclared query keys → 400 validation_failed, on every GET route', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      const op = ops.get;
      if (!op || !path.startsWith('/v1/')) continue;
      const roles = /^Roles: (.*)$/.exec(op.description ?? '')?.[1]?.split(', ') as
        Role[] | undefined;
      const headers = roles?.length ? await as(roles.includes('admin') ? 'admin' : roles[0]!) : {};
      for (const q of attacks) {
        const res = await http()
          .get(`${urlOf(path)}?${q}`)
          .set(headers);
        checked++;
        const errors = (res.body as { errors?: { path: string }[] }).errors;
        if (
          res.status !== 400 ||
          res.body.code !== 'validation_failed' ||
          !errors?.some((e) => e.path.startsWith('query'))
        )
          failures.push(
            `GET ${path}?${q}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
          );
      }
    }
    expect(checked).to.be.greaterThan(attacks.length * 5);
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('a repeated query key (an array) where one value belongs → 400 validation_failed', async () => {
    const res = await http()
      .get(`/v1/households/${world.householdId}/entries?after=0&after=1`)
      .set(await as('admin'));
    expect(res.status).to.equal(400);
    expect(res.body.code).to.equal('validation_failed');
  });
});
