/**
 * The pages of 道德储蓄 for every role, served under /app. One small bundle (Preact); each role
 * has its own page; everything it shows and changes goes through the same /v1 API integrators use.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { sessionExpired } from './api';
import { clearDrafts } from './drafts';
import { ROLE_NAMES } from './messages';
import { ClerkPage } from './pages/clerk';
import { CouncilPage } from './pages/council';
import { CounterPage } from './pages/counter';
import { HouseholdPage } from './pages/household';
import { LoginPage } from './pages/login';
import { PasswordPage } from './pages/password';
import { navigate, route, subPath } from './router';
import { saveTerminal, session, setSession, type Role } from './session';
import { Link } from './ui';

const BOARD_ROLES: Role[] = ['clerk', 'council', 'household'];
/** Accounts with a password of their own (修改密码); a counter signs in with terminal credentials. */
const PERSON_ROLES: Role[] = [
  'admin',
  'clerk',
  'council',
  'officer',
  'household',
  'township',
  'supervisor',
];
import { useSignal } from './signal';

type PageComponent = (p: { path: string }) => preact.JSX.Element;

/**
 * A page loaded on demand, in a chunk of its own (web/build.mjs splits at import()): the pages of
 * issue 11 (volunteer service, township station, supervisors, rankings) are not part of the first
 * load of the counter or the other everyday pages.
 */
function lazyPage(load: () => Promise<PageComponent>): PageComponent {
  let loaded: PageComponent | undefined;
  return function LazyPage(p: { path: string }) {
    const [state, setState] = useState<{ page?: PageComponent; failed?: boolean }>({
      page: loaded,
    });
    useEffect(() => {
      if (state.page) return;
      load().then(
        (page) => {
          loaded = page;
          setState({ page });
        },
        () => setState({ failed: true }),
      );
    }, [state.page, state.failed]);
    if (state.page) {
      const Page = state.page;
      return <Page path={p.path} />;
    }
    if (state.failed)
      return (
        <div class="alert alert-error" role="alert">
          页面没有读取成功，可能是网络中断。请检查网络后
          <button type="button" class="link-button" onClick={() => setState({})}>
            重新读取
          </button>
          。
        </div>
      );
    return (
      <p class="loading" role="status">
        正在读取页面…
      </p>
    );
  };
}

const ServicePage = lazyPage(() => import('./pages/service').then((m) => m.ServicePage));
const TownshipPage = lazyPage(() => import('./pages/oversight').then((m) => m.TownshipPage));
const SupervisorPage = lazyPage(() => import('./pages/oversight').then((m) => m.SupervisorPage));
const VolunteersPage = lazyPage(() => import('./pages/volunteers').then((m) => m.VolunteersPage));
const KinshipPage = lazyPage(() => import('./pages/oversight').then((m) => m.KinshipPage));
// The county office's page is large and used by a few people: not part of anyone else's first load.
const AdminPage = lazyPage(() => import('./pages/admin').then((m) => m.AdminPage));
// The cooperatives' credit officers are few, too: their page is not in the counter's first load.
const OfficerPage = lazyPage(() => import('./pages/officer').then((m) => m.OfficerPage));
// The boards: a station screen loads nothing else (see DisplayPage), and nobody's everyday page
// carries them.
const BoardPage = lazyPage(() => import('./pages/board').then((m) => m.BoardPage));
const DisplayPage = lazyPage(() => import('./pages/board').then((m) => m.DisplayPage));
const ScreensPage = lazyPage(() => import('./pages/screens').then((m) => m.ScreensPage));
const RankingsPage = lazyPage(() => import('./pages/volunteers').then((m) => m.RankingsPage));

/** Each role's page. Township, supervisor and volunteer pages join here when their APIs land. */
export const HOME: Partial<Record<string, string>> & Record<Role, string> = {
  admin: '/admin',
  clerk: '/clerk',
  council: '/council',
  terminal: '/counter',
  officer: '/officer',
  household: '/household',
  township: '/township',
  supervisor: '/supervisor',
};

const PAGES: {
  prefix: string;
  roles: Role[];
  page: (p: { path: string }) => preact.JSX.Element;
}[] = [
  { prefix: '/clerk', roles: ['clerk'], page: ClerkPage },
  { prefix: '/council', roles: ['council'], page: CouncilPage },
  { prefix: '/counter', roles: ['terminal'], page: CounterPage },
  { prefix: '/officer', roles: ['officer'], page: OfficerPage },
  { prefix: '/household', roles: ['household'], page: HouseholdPage },
  { prefix: '/board', roles: ['clerk', 'council', 'admin', 'household'], page: BoardPage },
  { prefix: '/admin', roles: ['admin'], page: AdminPage },
  { prefix: '/screens', roles: ['clerk', 'township', 'admin'], page: ScreensPage },
  { prefix: '/password', roles: PERSON_ROLES, page: PasswordPage },
  // Issue 11: the volunteer service loop, the township station, supervisors, rankings.
  { prefix: '/service', roles: ['household', 'clerk', 'township', 'admin'], page: ServicePage },
  { prefix: '/township', roles: ['township'], page: TownshipPage },
  { prefix: '/supervisor', roles: ['supervisor'], page: SupervisorPage },
  { prefix: '/volunteers', roles: ['clerk', 'township', 'admin'], page: VolunteersPage },
  { prefix: '/kinship', roles: ['clerk'], page: KinshipPage },
  {
    prefix: '/rankings',
    roles: ['clerk', 'council', 'household', 'township', 'supervisor', 'admin'],
    page: RankingsPage,
  },
];

/** Links to the issue-11 pages in the header, per role. */
const SERVICE_LINKS: Partial<Record<Role, { href: string; label: string }[]>> = {
  household: [{ href: '/service', label: '志愿服务' }],
  clerk: [
    { href: '/service', label: '志愿服务' },
    { href: '/volunteers', label: '志愿者' },
    { href: '/kinship', label: '亲属关系' },
    { href: '/screens', label: '大屏链接' },
  ],
  council: [{ href: '/rankings', label: '考评指数' }],
  township: [
    { href: '/township', label: '实践所' },
    { href: '/service/orders', label: '订单' },
    { href: '/volunteers', label: '志愿者' },
    { href: '/rankings', label: '考评指数' },
    { href: '/screens', label: '大屏链接' },
  ],
  supervisor: [{ href: '/rankings', label: '考评指数' }],
  admin: [
    { href: '/service/orders', label: '志愿服务' },
    { href: '/volunteers', label: '志愿者' },
    { href: '/rankings', label: '考评指数' },
    { href: '/screens', label: '大屏链接' },
  ],
};

function signOut(): void {
  if (session.get()?.me.role === 'terminal') saveTerminal(null);
  clearDrafts();
  setSession(null);
  sessionExpired.set(null);
  navigate('/', true);
}

function Header({ role, name, wide }: { role: Role; name: string; wide: boolean }) {
  return (
    <header class={`top ${wide ? 'top-wide' : ''}`}>
      <span class="brand">道德储蓄</span>
      <span class="who">
        {ROLE_NAMES[role]}
        {name ? ` · ${name}` : ''}
      </span>
      {PERSON_ROLES.includes(role) ? (
        <nav aria-label="其他页面">
          <Link href={HOME[role]}>首页</Link>
          {BOARD_ROLES.includes(role) ? <Link href="/board">红黑榜大屏</Link> : null}
          {(SERVICE_LINKS[role] ?? []).map((l) => (
            <Link key={l.href} href={l.href}>
              {l.label}
            </Link>
          ))}
          <Link href="/password">修改密码</Link>
        </nav>
      ) : null}
      <button type="button" class="link-button" onClick={signOut}>
        退出登录
      </button>
    </header>
  );
}

function App() {
  const path = subPath(useSignal(route));
  // A village station's screen opened by its board link: no sign-in, no header.
  if (path === '/display') {
    return (
      <div class="app is-board">
        <main id="main">
          <DisplayPage path={path} />
        </main>
      </div>
    );
  }
  return <SignedInApp path={path} />;
}

function SignedInApp({ path }: { path: string }) {
  const s = useSignal(session);
  const expired = useSignal(sessionExpired);

  const match = PAGES.find((p) => path === p.prefix || path.startsWith(`${p.prefix}/`));
  const home = s ? HOME[s.me.role] : undefined;
  useEffect(() => {
    if (s && !expired && home && (!match || !match.roles.includes(s.me.role))) navigate(home, true);
  }, [s, expired, match, home]);

  if (!s || expired) {
    return (
      <LoginPage
        expired={Boolean(expired)}
        onSignedIn={(role) => {
          const back = sessionExpired.get();
          sessionExpired.set(null);
          if (back && back !== '/app' && back !== '/app/') navigate(back, true);
          else navigate(match && match.roles.includes(role) ? path : (HOME[role] ?? '/'), true);
        }}
      />
    );
  }
  if (!home) {
    // A role whose pages have not been built yet (township stations, supervisors…).
    return (
      <div class="app">
        <Header role={s.me.role} name={s.me.username ?? ''} wide={false} />
        <main id="main">
          <h1>道德储蓄</h1>
          <p>此类账号的页面还在建设中，请先通过接口（/docs）办理，或联系县中心。</p>
        </main>
      </div>
    );
  }
  if (!match || !match.roles.includes(s.me.role)) return null;
  const Page = match.page;
  const board = match.prefix === '/board';
  return (
    <div class={`app role-${s.me.role} ${board ? 'is-board' : ''}`}>
      {board ? null : (
        <Header role={s.me.role} name={s.me.username ?? ''} wide={s.me.role === 'terminal'} />
      )}
      <main id="main">
        <Page path={path} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('root')!);
