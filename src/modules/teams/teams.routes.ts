import type { Api } from '../../platform/http';
import { id, obj, text, z } from '../../platform/validation';
import { TEAM_LEVELS } from './teams.model';
import { addMember, createTeam, getTeam, listTeams, removeMember } from './teams.service';
import { membershipSchema, teamDetailSchema, teamSchema } from './teams.schemas';

const createTeamBody = obj({
  name: text(64),
  category: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'a category code of the service menu'),
  level: z.enum(TEAM_LEVELS),
  villageId: id().optional(),
  townshipId: id().optional(),
  /** County teams: the county (default: the only one). */
  countyId: id().optional(),
});

const READERS = ['admin', 'township', 'clerk', 'council', 'supervisor', 'household'] as const;
const MANAGERS = ['admin', 'township', 'clerk'] as const;

export function teamRoutes(api: Api): void {
  teamSetupRoutes(api);
  membershipRoutes(api);
}

/** Setting up a team and reading the teams in reach. */
function teamSetupRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/teams',
      summary: 'Set up a volunteer team (county, township or village level)',
      tag: 'Volunteers',
      auth: MANAGERS,
      body: createTeamBody,
      responses: { 201: { description: 'Created', schema: teamSchema } },
    },
    async ({ principal, body }) => ({ status: 201, body: await createTeam(principal, body) }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/teams',
      summary: 'Teams in reach (a village sees its own and those of its township and county)',
      tag: 'Volunteers',
      auth: READERS,
      query: obj({ level: z.enum(TEAM_LEVELS).optional(), villageId: id().optional() }),
      responses: {
        200: { description: 'Teams', schema: z.object({ items: z.array(teamSchema) }) },
      },
    },
    async ({ principal, query }) => ({
      status: 200,
      body: { items: await listTeams(principal, query) },
    }),
  );
  api.route(
    {
      method: 'get',
      path: '/v1/teams/:id',
      summary: 'A team with its members and the history of joins and leaves',
      tag: 'Volunteers',
      auth: READERS,
      params: obj({ id: id() }),
      responses: { 200: { description: 'The team', schema: teamDetailSchema } },
    },
    async ({ principal, params }) => ({ status: 200, body: await getTeam(principal, params.id) }),
  );
}

/** A team's members: joins and leaves, each recorded, never edited. */
function membershipRoutes(api: Api): void {
  api.route(
    {
      method: 'post',
      path: '/v1/teams/:id/members',
      summary: 'A volunteer joins the team (recorded, never edited)',
      tag: 'Volunteers',
      auth: MANAGERS,
      params: obj({ id: id() }),
      body: obj({ volunteerId: id() }),
      responses: { 201: { description: 'The join', schema: membershipSchema } },
    },
    async ({ principal, params, body }) => ({
      status: 201,
      body: await addMember(principal, params.id, body.volunteerId),
    }),
  );
  api.route(
    {
      method: 'delete',
      path: '/v1/teams/:id/members/:volunteerId',
      summary: 'A volunteer leaves the team (recorded as a leave)',
      tag: 'Volunteers',
      auth: MANAGERS,
      params: obj({ id: id(), volunteerId: id() }),
      responses: { 200: { description: 'The leave', schema: membershipSchema } },
    },
    async ({ principal, params }) => ({
      status: 200,
      body: await removeMember(principal, params.id, params.volunteerId),
    }),
  );
}
