/**
 * Every route that takes a body, straight from /openapi.json, gets the same bad bodies: unknown
 * fields, wrong types, operator objects, keys and values FerretDB cannot store, broken JSON and
 * oversize bodies. Each must be refused with the CONTRACT's problem+json and code, naming the
 * offending field, and must leave every collection as it was. A failure lists route and case.
 */
import type { Response } from 'supertest';
import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { countAll, storedSince } from '../../support/snapshot';
import { BODY_BYTES_MAX } from '../../../src/app';
import {
  CASES_AT_ONCE,
  nullable,
  objectVariant,
  resolver,
  sampleBody,
  tableRows,
  typeOf,
  type JsonSchema,
  type OpenApiDoc,
  type Row,
  type World,
} from './openapi-table';

interface Case {
  label: string;
  /** A JSON value, or raw text when `raw` is set. */
  body: unknown;
  raw?: boolean;
  contentType?: string;
  status: number;
  code: string;
  /** An error's path must be this or lie under it ('(root)' for the body itself). */
  path?: string;
  /** Or an error's message or path must mention this. */
  mentions?: string;
}

const join = (path: string[]) => path.join('.') || '(root)';

function setAt(body: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(body ?? {}) as Record<string | number, unknown>;
  let cur = copy;
  for (const key of path.slice(0, -1)) {
    if (cur[key] === undefined || cur[key] === null || typeof cur[key] !== 'object') cur[key] = {};
    cur = cur[key] as Record<string | number, unknown>;
  }
  cur[path[path.length - 1]!] = value;
  return copy;
}

function getAt(body: unknown, path: (string | number)[]): unknown {
  let cur = body as Record<string | number, unknown> | undefined;
  for (const key of path) cur = cur?.[key] as Record<string | number, unknown> | undefined;
  return cur;
}

const WRONG_TYPE: Record<string, unknown[]> = {
  string: [12345, true, ['x']],
  integer: ['10', 1.5, true, [1]],
  number: ['10', true, [1]],
  boolean: ['true', 1],
  array: ['x', 1, {}],
  object: ['x', 1, []],
};

/** Fields a caller must never set: balances, chain fields, ids, secrets, roles. */
const MASS_ASSIGNMENT = [
  'spendable',
  'merit',
  'hash',
  'prevHash',
  'seq',
  '_id',
  'id',
  'createdAt',
  'passwordHash',
  'secretHash',
  'role',
  'villageId',
  'householdId',
];

/** The bad bodies of one route, derived from its schema and its base body. */
function casesFor(row: Row, doc: OpenApiDoc, world: World): Record<string, Case[]> {
  const resolve = resolver(doc);
  const out: Record<string, Case[]> = { unknown: [], wrongType: [], operator: [], unstorable: [] };
  const bad = (kind: string, c: Omit<Case, 'status' | 'code'>) =>
    out[kind]!.push({ status: 400, code: 'validation_failed', ...c });

  const walk = (schema: JsonSchema | undefined, path: (string | number)[], depth: number) => {
    const s = objectVariant(
      schema,
      getAt(row.base, path) as Record<string, unknown> | undefined,
      resolve,
    );
    if (!s || depth > 5) return;
    const here = path.map(String);
    const type = typeOf(s);
    if (type === 'object') {
      const props = s.properties ?? {};
      bad('unknown', {
        label: `unknown field at ${join(here)}`,
        body: setAt(row.base, [...path, 'zzUnknownField'], 'x'),
        mentions: 'zzUnknownField',
      });
      if (depth === 0) {
        for (const f of MASS_ASSIGNMENT.filter((f) => !(f in props))) {
          bad('unknown', {
            label: `mass assignment of ${f}`,
            body: setAt(row.base, [f], f === 'spendable' || f === 'seq' ? 1_000_000 : 'x'),
            mentions: f,
          });
        }
      }
      bad('unstorable', {
        label: `key "$set" at ${join(here)}`,
        body: setAt(row.base, [...path, '$set'], { x: 1 }),
        path: join([...here, '$set']),
      });
      bad('unstorable', {
        label: `key "a.b" at ${join(here)}`,
        body: setAt(row.base, [...path, 'a.b'], 1),
        path: join([...here, 'a.b']),
      });
      for (const [k, child] of Object.entries(props)) walk(child, [...path, k], depth + 1);
      return;
    }
    if (depth === 0) return;
    const where = join(here);
    for (const v of WRONG_TYPE[type ?? ''] ?? [])
      bad('wrongType', {
        label: `${where} = ${JSON.stringify(v)}`,
        body: setAt(row.base, path, v),
        path: where,
      });
    if (!nullable(s))
      bad('wrongType', {
        label: `${where} = null`,
        body: setAt(row.base, path, null),
        path: where,
      });
    bad('operator', {
      label: `${where} = {"$gt": ""}`,
      body: setAt(row.base, path, { $gt: '' }),
      path: where,
    });
    bad('operator', {
      label: `${where} = {"$ne": null}`,
      body: setAt(row.base, path, { $ne: null }),
      path: where,
    });
    if (type !== 'object' && type !== 'array')
      bad('operator', {
        label: `${where} = {"gt": ""}`,
        body: setAt(row.base, path, { gt: '' }),
        path: where,
      });
    if (type === 'string')
      bad('unstorable', {
        label: `NUL in ${where}`,
        body: setAt(row.base, path, 'a\u0000b'),
        path: where,
      });
    if (type === 'array') {
      const item =
        (getAt(row.base, path) as unknown[] | undefined)?.[0] ??
        sampleBody(s.items, resolve, world);
      bad('unstorable', {
        label: `nested array in ${where}`,
        body: setAt(row.base, path, [[item]]),
        path: where,
      });
      const itemType = typeOf(objectVariant(s.items, undefined, resolve));
      if (itemType === 'object') {
        const withItem = setAt(row.base, path, [item]);
        const saved = row.base;
        row.base = withItem as Record<string, unknown>;
        walk(s.items, [...path, 0], depth + 1);
        row.base = saved;
      } else if (itemType) {
        bad('unstorable', {
          label: `NUL or operator inside ${where}`,
          body: setAt(row.base, path, [{ $gt: '' }]),
          path: where,
        });
      }
    }
  };
  walk(row.schema, [], 0);
  return out;
}

/** Undefined when `res` is the problem `c` asks for, else why not. */
function mismatch(
  res: Response,
  c: Pick<Case, 'status' | 'code' | 'path' | 'mentions'>,
): string | undefined {
  const b = res.body as {
    type?: unknown;
    title?: unknown;
    status?: unknown;
    detail?: unknown;
    code?: unknown;
    errors?: { path: string; message: string }[];
  };
  const got = `${res.status} ${JSON.stringify(b).slice(0, 300)}`;
  if (res.status !== c.status) return `status ${got}`;
  if (!/^application\/problem\+json/.test(res.headers['content-type'] ?? ''))
    return `content-type ${res.headers['content-type']}`;
  if (
    typeof b.type !== 'string' ||
    typeof b.title !== 'string' ||
    b.status !== c.status ||
    typeof b.detail !== 'string' ||
    b.code !== c.code
  )
    return `problem ${got}`;
  if (c.code === 'validation_failed') {
    if (!Array.isArray(b.errors) || b.errors.length === 0) return `no errors[] ${got}`;
    if (!b.errors.every((e) => typeof e.path === 'string' && typeof e.message === 'string'))
      return `errors[] shape ${got}`;
    if (c.path && !b.errors.some((e) => e.path === c.path || e.path.startsWith(`${c.path}.`)))
      return `no error at ${c.path}: ${got}`;
    if (
      c.mentions &&
      !b.errors.some((e) => e.path.includes(c.mentions!) || e.message.includes(c.mentions!))
    )
      return `no error naming ${c.mentions}: ${got}`;
  }
  return undefined;
}

async function send(row: Row, c: Case): Promise<Response> {
  const req = http()[row.method](row.url).set(row.headers);
  if (c.raw)
    return req.set('Content-Type', c.contentType ?? 'application/json').send(c.body as string);
  return req.set('Content-Type', c.contentType ?? 'application/json').send(JSON.stringify(c.body));
}

/**
 * Sends every case of every row; returns the list of failures (route, case, why). Nothing stored
 * is checked once for the whole table: a snapshot counts every collection (~80 commands), and one
 * per route was most of the table's time. A case let through is named by its own status anyway
 * (a stored body answers 2xx), and a count that moved names its collection.
 */
async function runTable(rows: Row[], cases: (row: Row) => Case[]): Promise<string[]> {
  const failures: string[] = [];
  const before = await countAll();
  for (const row of rows) {
    const list = cases(row);
    for (let i = 0; i < list.length; i += CASES_AT_ONCE) {
      const part = list.slice(i, i + CASES_AT_ONCE);
      const whys = await Promise.all(part.map(async (c) => mismatch(await send(row, c), c)));
      part.forEach((c, j) => {
        if (whys[j]) failures.push(`${row.name} › ${c.label}: ${whys[j]}`);
      });
    }
  }
  failures.push(...storedSince(before, await countAll()));
  return failures;
}

describe('request bodies on every POST/PATCH route of /openapi.json', function () {
  this.timeout(300_000);
  let doc: OpenApiDoc;
  let rows: Row[];
  let world: World;
  let withBody: Row[];

  before(async () => {
    ({ doc, rows, world } = await tableRows());
    withBody = rows.filter((r) => r.schema);
  });

  it('the table holds every route that takes a body, and the known valid bodies are accepted', async () => {
    expect(withBody.map((r) => r.name)).to.include.members([
      'POST /v1/auth/token',
      'POST /v1/villages',
      'PATCH /v1/villages/{id}',
      'POST /v1/users',
      'POST /v1/households',
      'POST /v1/households/{id}/adjustments',
    ]);
    for (const row of withBody.filter((r) => r.exact)) {
      // A fresh body: the bad bodies below derive from row.base, which must stay unregistered
      // so that a bad body let through would be stored (and counted), not refused as a twin.
      const res = await http()[row.method](row.url).set(row.headers).send(row.fresh()!);
      // The token row's user does not exist: 401 proves the body passed validation.
      const expected = row.name === 'POST /v1/auth/token' ? 401 : undefined;
      if (expected) expect(res.status, row.name).to.equal(expected);
      else expect(res.status, `${row.name}: ${JSON.stringify(res.body)}`).to.be.within(200, 299);
    }
  });

  const kinds: [string, string][] = [
    [
      'unknown',
      'unknown fields at any depth and mass-assigned fields (spendable, hash, seq, role, …) → 400 validation_failed naming the field; nothing stored',
    ],
    ['wrongType', 'wrong types and null → 400 validation_failed at that field; nothing stored'],
    [
      'operator',
      'operator objects ({"$gt": ""}, {"$ne": null}) and objects where a scalar belongs → 400 validation_failed; nothing stored',
    ],
    [
      'unstorable',
      'keys FerretDB cannot store (leading $, a dot), NUL characters and nested arrays → 400 validation_failed, never 500; nothing stored',
    ],
  ];
  for (const [kind, title] of kinds) {
    it(title, async () => {
      let total = 0;
      const failures = await runTable(withBody, (row) => {
        const list = casesFor(row, doc, world)[kind]!;
        total += list.length;
        return list;
      });
      expect(total, 'cases generated').to.be.greaterThan(withBody.length);
      expect(failures, failures.join('\n')).to.deep.equal([]);
    });
  }

  it('broken JSON, JSON that is not an object, and bodies nested too deeply → 400 validation_failed; nothing stored', async () => {
    const texts = [
      '{"a":',
      '{a:1}',
      "{'a':1}",
      '{"a":1,}',
      '{"a":1}{"b":2}',
      'NaN',
      '"just a string"',
      '42',
      'null',
      'true',
      '[]',
      '[{"a":1}]',
      `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`,
    ];
    const failures = await runTable(withBody, () =>
      texts.map((t) => ({
        label: `body ${t.slice(0, 20)}`,
        body: t,
        raw: true,
        status: 400,
        code: 'validation_failed',
      })),
    );
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('bodies over 1 MiB → 413 payload_too_large; nothing stored', async () => {
    const failures = await runTable(rows, (row) => {
      const filler = 'a'.repeat(BODY_BYTES_MAX);
      return [
        {
          label: 'one long string',
          body: { ...(row.base ?? {}), zz: filler },
          status: 413,
          code: 'payload_too_large',
        },
        ...(row.name === 'POST /v1/households'
          ? [
              {
                label: 'many small fields',
                body: Object.fromEntries(
                  Array.from({ length: 80_000 }, (_, i) => [`f${i}`, 'xxxxxxx']),
                ),
                status: 413,
                code: 'payload_too_large',
              },
            ]
          : []),
      ];
    });
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('a JSON body sent under another media type or charset is refused with a problem; nothing stored', async () => {
    const failures: string[] = [];
    const before = await countAll();
    for (const row of withBody) {
      for (const [contentType, status] of [
        ['text/plain', 400],
        ['application/x-www-form-urlencoded', 400],
        ['application/json; charset=latin1', 415],
      ] as const) {
        const agent = http();
        const res = await agent[row.method](row.url)
          .set(row.headers)
          .set('Content-Type', contentType)
          .send(JSON.stringify(row.base));
        if (
          res.status !== status ||
          !/^application\/problem\+json/.test(res.headers['content-type'] ?? '')
        )
          failures.push(`${row.name} › ${contentType}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    failures.push(...storedSince(before, await countAll()));
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('routes that take no body refuse one → 400 validation_failed; nothing stored', async () => {
    const bodiless = rows.filter((r) => !r.schema);
    const failures = await runTable(bodiless, () => [
      { label: 'a field', body: { name: 'x' }, status: 400, code: 'validation_failed' },
      { label: 'an operator', body: { $where: '1' }, status: 400, code: 'validation_failed' },
    ]);
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });
});
