/**
 * The text policy at the edge, on every route of /openapi.json that takes a body: every string
 * field refuses lone surrogates, control characters and bidirectional overrides with 400
 * validation_failed naming the field, and stores nothing; names refuse zero-width characters;
 * one-line fields refuse line breaks; bodies whose bytes are not UTF-8 are refused; limits
 * count code points; accepted text is stored NFC.
 */
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeCooperative,
  makeHousehold,
  makeUser,
  makeVillage,
  type TestUser,
} from '../../support/factories';
import { countAll, storedSince } from '../../support/snapshot';
import {
  CASES_AT_ONCE,
  objectVariant,
  resolver,
  tableRows,
  typeOf,
  type JsonSchema,
  type OpenApiDoc,
  type Row,
} from './openapi-table';

/** Text no field may hold, with what it is. */
const HOSTILE: [string, string][] = [
  ['张\u202e三', 'a right-to-left override'],
  ['李\u0007四', 'a bell (C0 control)'],
  ['王\u001b[31m五', 'a terminal escape sequence'],
  ['赵\u2066六\u2069', 'a bidirectional isolate'],
  ['孙\u0085七', 'a next-line (C1 control)'],
  ['周\u007f八', 'DEL'],
  ['lone \ud800 surrogate', 'a lone high surrogate'],
  ['\udc00吴九', 'a lone low surrogate'],
  ['郑\t十', 'a tab'],
];

/** A string schema as /openapi.json describes it. */
type StringSchema = JsonSchema & { description?: string; format?: string };

interface StringField {
  /** Path in the body, e.g. ['members', 0, 'name']. */
  path: (string | number)[];
  schema: StringSchema;
  /** An array of strings (the value goes in as its first item). */
  inArray: boolean;
}

function setAt(body: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(body ?? {}) as Record<string | number, unknown>;
  let cur = copy;
  path.slice(0, -1).forEach((key, i) => {
    if (cur[key] === undefined || cur[key] === null || typeof cur[key] !== 'object')
      cur[key] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[key] as Record<string | number, unknown>;
  });
  cur[path[path.length - 1]!] = value;
  return copy;
}

/** Every string field of a body schema, objects and arrays of objects followed down. */
function stringFields(row: Row, doc: OpenApiDoc): StringField[] {
  const resolve = resolver(doc);
  const out: StringField[] = [];
  const walk = (schema: JsonSchema | undefined, path: (string | number)[], depth: number) => {
    const s = objectVariant(schema, depth === 0 ? row.base : undefined, resolve);
    if (!s || depth > 5) return;
    const type = typeOf(s);
    if (type === 'object')
      for (const [k, child] of Object.entries(s.properties ?? {}))
        walk(child, [...path, k], depth + 1);
    else if (type === 'array') {
      const item = objectVariant(s.items, undefined, resolve);
      if (typeOf(item) === 'string') out.push({ path, schema: item!, inArray: true });
      else walk(s.items, [...path, 0], depth + 1);
    } else if (type === 'string') out.push({ path, schema: s, inArray: false });
  };
  walk(row.schema, [], 0);
  return out;
}

const dotted = (path: (string | number)[]) => path.join('.');
/** A request to a table row's route. */
const call = (row: Row) => http()[row.method](row.url);

describe('T1 the text policy on every route that takes a body', function () {
  this.timeout(300_000);
  let doc: OpenApiDoc;
  let rows: Row[];

  before(async () => {
    ({ doc, rows } = await tableRows());
    rows = rows.filter((r) => r.schema);
  });

  async function refusedEverywhere(
    values: (field: StringField) => [string, string][],
  ): Promise<{ failures: string[]; cases: number }> {
    const failures: string[] = [];
    let cases = 0;
    // Nothing stored is checked once for the whole table (a snapshot is ~80 commands; one per
    // route was most of the time), and a route's cases are sent side by side: each is refused
    // on its own. A value let through is named by its own status (a stored body answers 2xx).
    const before = await countAll();
    for (const row of rows) {
      const sends = stringFields(row, doc).flatMap((field) =>
        values(field).map(([value, what]) => ({ field, value, what })),
      );
      cases += sends.length;
      for (let i = 0; i < sends.length; i += CASES_AT_ONCE) {
        await Promise.all(
          sends.slice(i, i + CASES_AT_ONCE).map(async ({ field, value, what }) => {
            const body = setAt(row.base, field.path, field.inArray ? [value] : value);
            const res = await call(row)
              .set(row.headers)
              .set('Content-Type', 'application/json')
              .send(JSON.stringify(body));
            const where = dotted(field.path);
            const named = (res.body.errors ?? []).some(
              (e: { path: string }) => e.path === where || e.path.startsWith(`${where}.`),
            );
            if (res.status !== 400 || res.body.code !== 'validation_failed' || !named)
              failures.push(
                `${row.name} › ${where} with ${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
              );
          }),
        );
      }
    }
    failures.push(...storedSince(before, await countAll()));
    return { failures, cases };
  }

  it('refuses bidi overrides and isolates, C0/C1 controls, DEL, tabs and lone surrogates in every string field → 400 validation_failed naming the field; nothing stored', async () => {
    const { failures, cases } = await refusedEverywhere(() => HOSTILE);
    expect(cases).to.be.greaterThan(rows.length * HOSTILE.length);
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('refuses zero-width characters in names, and line breaks in one-line text; nothing stored', async () => {
    const { failures, cases } = await refusedEverywhere((f) => {
      const d = f.schema.description ?? '';
      const out: [string, string][] = [];
      if (d.startsWith('A name'))
        out.push(
          ['周\u200b八', 'a zero-width space'],
          ['吴\u200d九', 'a zero-width joiner'],
          ['郑\ufeff十', 'a BOM inside'],
        );
      if (!d.startsWith('Free text'))
        out.push(
          ['第一行\n第二行', 'a line feed'],
          ['第一行\r\n第二行', 'CRLF'],
          ['第一行\u2028第二行', 'a line separator'],
        );
      return out;
    });
    expect(cases).to.be.greaterThan(20);
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('every string a body takes is under the text policy, a fixed format (pattern, enum, date-time) or a credential', () => {
    const loose: string[] = [];
    for (const row of rows) {
      for (const f of stringFields(row, doc)) {
        const s = f.schema;
        const policed = /Unicode code points/.test(s.description ?? '');
        const fixed = Boolean(s.pattern || s.enum || s.format);
        if (!policed && !fixed) loose.push(`${row.name} › ${dotted(f.path)}`);
      }
    }
    expect(loose, loose.join('\n')).to.deep.equal([]);
  });

  it('refuses a body whose bytes are not UTF-8 (instead of storing U+FFFD) → 400 validation_failed; nothing stored', async () => {
    const failures: string[] = [];
    const before = await countAll();
    for (const row of rows) {
      const json = Buffer.from(JSON.stringify(row.base ?? {}), 'utf8');
      // The same body with one field's text replaced by bytes that are not UTF-8 (Latin-1 "é", a lone 0xFF).
      for (const bad of [
        Buffer.from([0xe9]),
        Buffer.from([0xff, 0xfe]),
        Buffer.from([0xed, 0xa0, 0x80]),
      ]) {
        const body = Buffer.concat([
          json.subarray(0, json.length - 1),
          Buffer.from(',"zz":"'),
          bad,
          Buffer.from('"}'),
        ]);
        const res = await call(row)
          .set(row.headers)
          .set('Content-Type', 'application/json')
          .serialize((x: unknown) => x as string)
          .send(body as unknown as string);
        if (
          res.status !== 400 ||
          res.body.code !== 'validation_failed' ||
          !/UTF-8/.test(res.body.detail)
        )
          failures.push(
            `${row.name} › ${bad.toString('hex')}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
          );
      }
    }
    failures.push(...storedSince(before, await countAll()));
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });
});

describe('T1 text the API accepts', () => {
  let admin: TestUser;
  let villageId: string;

  before(async () => {
    admin = await makeAdmin();
    villageId = (await makeVillage()).id;
  });

  it('names with a bidi override, a bell or an escape sequence → 400 validation_failed naming the field (张\\u202e三, 李\\u0007四, 王\\u001b[31m五)', async () => {
    for (const [head, members] of [
      ['张\u202e三', undefined],
      ['李\u0007四', undefined],
      ['王\u001b[31m五', undefined],
      ['王五', [{ name: '张\u202e三' }]],
    ] as const) {
      const before = await countAll();
      const res = await http()
        .post('/v1/households')
        .set(admin.auth)
        .send({
          villageId,
          head,
          cardNo: `TP-${Date.now().toString(36)}`,
          ...(members ? { members } : {}),
        });
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal([
        members ? 'members.0.name' : 'head',
      ]);
      expect(await countAll()).to.deep.equal(before);
    }
  });

  it('counts length limits in code points, says so, and stores text NFC-normalised and trimmed', async () => {
    const h = await makeHousehold(villageId);
    const post = (reason: string) =>
      http().post(`/v1/households/${h.id}/adjustments`).set(admin.auth).send({ points: 1, reason });
    // 500 emoji are 1,000 UTF-16 units: within the 500-character limit.
    const emoji500 = '🍚'.repeat(500);
    const ok = await post(emoji500);
    expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
    expect(ok.body.reason).to.equal(emoji500);
    const over = await post(`${emoji500}米`);
    expect(over.status).to.equal(400);
    expect(over.body.errors[0]).to.deep.include({ path: 'reason' });
    expect(over.body.errors[0].message).to.match(/at most 500 characters \(Unicode code points\)/);
    // Decomposed é (e + U+0301) and a compatibility ideograph are stored in NFC; 501 code points
    // before NFC, 500 after: within the limit.
    const decomposed = `  ${'e\u0301'}${'积'.repeat(498)}\uf900  `;
    const nfc = await post(decomposed);
    expect(nfc.status, JSON.stringify(nfc.body)).to.equal(201);
    expect(nfc.body.reason).to.equal(`é${'积'.repeat(498)}\u8c48`);
    const entries = await http().get(`/v1/households/${h.id}/entries`).set(admin.auth);
    expect(entries.body.items.map((e: { reason: string }) => e.reason)).to.deep.equal([
      emoji500,
      nfc.body.reason,
    ]);
  });

  it('refuses line breaks in one-line text, naming the field', async () => {
    const clerk = await makeUser('clerk', { villageId });
    const res = await http()
      .post('/v1/households')
      .set(clerk.auth)
      .send({ villageId, head: '王\n五', cardNo: `TP-${Date.now().toString(36)}X` });
    expect(res.status).to.equal(400);
    expect(res.body.errors[0]).to.deep.include({
      path: 'head',
      message: 'must be one line (no line breaks)',
    });
  });

  it('a query string with a bidi override is refused too (query.purpose)', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    const officer = await makeUser('officer', {
      cooperativeId: (await makeCooperative([v.id])).id,
    });
    const res = await http()
      .get(`/v1/credit/households/${h.id}`)
      .query({ purpose: '贷款\u202e审查' })
      .set(officer.auth);
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.errors[0].path).to.equal('query.purpose');
  });
});
