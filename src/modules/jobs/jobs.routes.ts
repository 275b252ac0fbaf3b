import type { Api } from '../../platform/http';
import { obj, queryInt, z } from '../../platform/validation';
import { listFailedJobs, retryFailedJob, type JobsDeps } from './jobs.service';
import { failedJobSchema } from './jobs.schemas';

const queueName = () => z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a queue name');
const jobId = () => z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/, 'a job id');

export function jobRoutes(api: Api, deps: JobsDeps): void {
  api.route(
    {
      method: 'get',
      path: '/v1/admin/failed-jobs',
      summary: 'Background jobs that exhausted their retries, newest first',
      tag: 'Operations',
      auth: ['admin'],
      query: obj({ queue: queueName().optional(), limit: queryInt(1, 500).optional() }),
      responses: {
        200: { description: 'Failed jobs', schema: z.object({ items: z.array(failedJobSchema) }) },
      },
    },
    async ({ query }) => ({
      status: 200,
      body: {
        items: await listFailedJobs(deps, { queue: query.queue, limit: query.limit ?? 100 }),
      },
    }),
  );
  api.route(
    {
      method: 'post',
      path: '/v1/admin/failed-jobs/:queue/:jobId/retry',
      summary: 'Put a failed job back in its queue',
      tag: 'Operations',
      auth: ['admin'],
      params: obj({ queue: queueName(), jobId: jobId() }),
      responses: { 200: { description: 'The job, queued again', schema: failedJobSchema } },
    },
    async ({ params }) => ({
      status: 200,
      body: await retryFailedJob(deps, params.queue, params.jobId),
    }),
  );
}
