import { todayUtc } from '../../platform/clock';
import { DomainError, notFound } from '../../platform/errors';
import type { Api } from '../../platform/http';
import { z } from '../../platform/validation';
import { canSeeVillage, findVillage } from '../villages/villages.service';
import {
  codeParams,
  createOverrideBody,
  createRuleBody,
  effectiveRuleSchema,
  listRulesQuery,
  overrideSchema,
  previewQuery,
  previewSchema,
  ruleVersionSchema,
} from './rules.schemas';
import {
  createOverride,
  createRuleVersion,
  getRule,
  listEffectiveRules,
  previewPoints,
} from './rules.service';
import { householdInReach } from '../households/households.service';

const READERS = ['admin', 'clerk', 'council', 'household'] as const;

export function ruleRoutes(api: Api): void {
  postRuleRoute(api);
  readRoutes(api);
  villageRoutes(api);
}

function postRuleRoute(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/rules',
      summary: 'Post a rule, or the next version of an existing code',
      tag: 'Rules',
      auth: ['admin'],
      body: createRuleBody,
      responses: { 201: { description: 'The new version', schema: ruleVersionSchema } },
    },
    async ({ principal, body }) => {
      if (body.points !== undefined && body.points < 0 && body.kind === 'award') {
        throw new DomainError('validation_failed', 'The rule is not valid.', {
          errors: [{ path: 'points', message: 'an award gives positive points' }],
        });
      }
      const points = body.points === undefined ? undefined : Math.abs(body.points);
      return { status: 201, body: await createRuleVersion(principal, { ...body, points }) };
    },
  );
}

/** The catalogue in force, and one rule's versions. */
function readRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/rules',
      summary: "The catalogue in force on a date (a village's, with its overrides)",
      tag: 'Rules',
      auth: READERS,
      query: listRulesQuery,
      responses: {
        200: {
          description: 'Rules in force',
          schema: z.object({
            on: z.string(),
            villageId: z.string().nullable(),
            items: z.array(effectiveRuleSchema),
          }),
        },
      },
    },
    async ({ principal, query }) => {
      const villageId =
        query.villageId ?? (principal.role === 'admin' ? undefined : principal.villageId);
      if (villageId && !canSeeVillage(principal, villageId)) throw notFound('village');
      const on = query.on ?? todayUtc();
      return {
        status: 200,
        body: { on, villageId: villageId ?? null, items: await listEffectiveRules(villageId, on) },
      };
    },
  );
  api.route(
    {
      method: 'get',
      path: '/v1/rules/:code',
      summary: 'Every version of a rule',
      tag: 'Rules',
      auth: READERS,
      params: codeParams,
      responses: {
        200: {
          description: 'Versions, oldest first',
          schema: z.object({ code: z.string(), versions: z.array(ruleVersionSchema) }),
        },
      },
    },
    async ({ params }) => ({ status: 200, body: await getRule(params.code) }),
  );
}

/** What a village's clerk does with a rule: preview a filing, set the village's own version. */
function villageRoutes(api: Api): void {
  api.route(
    {
      method: 'get',
      path: '/v1/rules/:code/preview',
      summary:
        'The points a filing under this rule would give a household (caps applied; nothing is filed)',
      tag: 'Rules',
      auth: ['admin', 'clerk'],
      params: codeParams,
      query: previewQuery,
      responses: { 200: { description: 'The preview', schema: previewSchema } },
    },
    async ({ principal, params, query }) => {
      const household = await householdInReach(principal, query.householdId);
      if (household.villageId !== query.villageId) throw notFound('household');
      return { status: 200, body: await previewPoints({ ...query, ruleCode: params.code }) };
    },
  );
  api.route(
    {
      method: 'post',
      path: '/v1/rules/:code/overrides',
      summary: "A village's own version of a county rule (switched off, or its own points)",
      tag: 'Rules',
      auth: ['admin', 'clerk'],
      params: codeParams,
      body: createOverrideBody,
      responses: { 201: { description: 'The override', schema: overrideSchema } },
    },
    async ({ principal, params, body }) => {
      if (!canSeeVillage(principal, body.villageId) || !(await findVillage(body.villageId)))
        throw notFound('village');
      return { status: 201, body: await createOverride(principal, { ...body, code: params.code }) };
    },
  );
}
