import type { Api } from '../../platform/http';
import type { Logger } from '../../platform/logger';
import type { Queues } from '../../platform/queues';
import { z } from '../../platform/validation';
import { enqueueNoticeWith } from './submissions.jobs';
import {
  appealBody,
  appealDecisionBody,
  appealSchema,
  createSubmissionBody,
  idParams,
  listAppealsQuery,
  listSubmissionsQuery,
  objectionBody,
  objectionSchema,
  submissionSchema,
  voteBody,
} from './submissions.schemas';
import {
  castVote,
  decideAppeal,
  fileAppeal,
  fileObjection,
  fileSubmission,
  getSubmission,
  listAppeals,
  listSubmissions,
  type CouncilDeps,
} from './submissions.service';

/**
 * Everyone of a village reads its submissions: the public notice (公示) is public; so do its
 * supervisors (监督运营, who may also object) and its township station (which decides appeals).
 * What each may do beyond reading is checked in the service.
 */
const VILLAGE = ['admin', 'clerk', 'council', 'household', 'supervisor', 'township'] as const;

/** The council workflow's dependencies for one request (its logger). */
type Council = (log: Logger) => CouncilDeps;

export function submissionRoutes(api: Api, deps: { queues: Queues }): void {
  const enqueuePost = enqueueNoticeWith(deps.queues);
  const council: Council = (log) => ({ enqueuePost, log });
  filingRoutes(api, council);
  councilRoutes(api, council);
  appealRoutes(api, council);
}

/** Filing a submission and reading a village's submissions. */
function filingRoutes(api: Api, council: Council): void {
  api.route(
    {
      method: 'post',
      path: '/v1/submissions',
      summary: 'File an award or deduction for council review',
      tag: 'Submissions',
      auth: ['clerk'],
      body: createSubmissionBody,
      responses: { 201: { description: 'Filed, in review', schema: submissionSchema } },
    },
    async ({ principal, body, log }) => ({
      status: 201,
      body: await fileSubmission(principal, body, council(log)),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/submissions',
      summary: "A village's submissions, newest first",
      tag: 'Submissions',
      auth: VILLAGE,
      query: listSubmissionsQuery,
      responses: {
        200: {
          description: 'A page; `next` is the `before` of the next page',
          schema: z.object({ items: z.array(submissionSchema), next: z.string().nullable() }),
        },
      },
    },
    async ({ principal, query }) => ({
      status: 200,
      body: await listSubmissions(principal, query),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/submissions/:id',
      summary: 'A submission with its votes and history',
      tag: 'Submissions',
      auth: VILLAGE,
      params: idParams,
      responses: { 200: { description: 'The submission', schema: submissionSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await getSubmission(principal, params.id),
    }),
  );
}

/** The council's review and the public notice: votes, and objections during the notice. */
function councilRoutes(api: Api, council: Council): void {
  api.route(
    {
      method: 'post',
      path: '/v1/submissions/:id/votes',
      summary: 'Vote in the current review round (council of the village)',
      tag: 'Submissions',
      auth: VILLAGE,
      params: idParams,
      body: voteBody,
      responses: {
        200: { description: 'The submission after the vote', schema: submissionSchema },
      },
    },
    async ({ principal, params, body, log }) => ({
      status: 200,
      body: await castVote(principal, params.id, body, council(log)),
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/submissions/:id/objections',
      summary: 'Object during the public notice (a household or the clerk of the village)',
      tag: 'Submissions',
      auth: VILLAGE,
      params: idParams,
      body: objectionBody,
      responses: {
        201: {
          description: 'Objection recorded; the submission is back in review',
          schema: objectionSchema,
        },
      },
    },
    async ({ principal, params, body, log }) => ({
      status: 201,
      body: await fileObjection(principal, params.id, body, council(log)),
    }),
  );
}

/** Appeals of a posted deduction: filed by the household, decided by the township. */
function appealRoutes(api: Api, council: Council): void {
  api.route(
    {
      method: 'post',
      path: '/v1/submissions/:id/appeals',
      summary: 'Appeal a posted deduction within 30 days (the household concerned)',
      tag: 'Submissions',
      auth: VILLAGE,
      params: idParams,
      body: appealBody,
      responses: { 201: { description: 'The appeal, pending', schema: appealSchema } },
    },
    async ({ principal, params, body, log }) => ({
      status: 201,
      body: await fileAppeal(principal, params.id, body, council(log)),
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/submissions/:id/appeals/decision',
      summary: 'Decide an appeal (the township station of the village, or the county office)',
      tag: 'Submissions',
      auth: VILLAGE,
      params: idParams,
      body: appealDecisionBody,
      responses: { 200: { description: 'The decided appeal', schema: appealSchema } },
    },
    async ({ principal, params, body, log }) => ({
      status: 200,
      body: await decideAppeal(principal, params.id, body, council(log)),
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/appeals',
      summary:
        "Submissions with an appeal in a given state (default: pending), oldest first (a township station: its villages')",
      tag: 'Submissions',
      auth: ['admin', 'township'],
      query: listAppealsQuery,
      responses: {
        200: { description: 'Submissions', schema: z.object({ items: z.array(submissionSchema) }) },
      },
    },
    async ({ principal, query }) => ({
      status: 200,
      body: {
        items: await listAppeals(
          query.status ?? 'pending',
          query.limit ?? 100,
          principal.role === 'township' ? (principal.villageIds ?? []) : undefined,
        ),
      },
    }),
  );
}
