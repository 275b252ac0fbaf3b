/**
 * 道德红黑榜 on the village station's screen: this month's red and black lists, names masked as
 * the boards API masks them, in large type, refreshing by itself every minute. Two ways in:
 * `/board` for a signed-in person, and `/display#<secret>` for a station screen opened by its
 * board link (大屏链接), which needs no sign-in and so never falls back to the sign-in page.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, NetworkError } from '../api';
import { beijing, thisMonthCst } from '../format';
import { describeError } from '../messages';
import { session } from '../session';
import { Alert, Link, Select, useLoad } from '../ui';

const HOME_OF: Record<string, string> = {
  admin: '/admin',
  clerk: '/clerk',
  council: '/council',
  household: '/household',
};

/** How often the screen reads the lists again. */
const REFRESH_MS = 60_000;

interface Row {
  name: string;
  points: number;
  items: { ruleTitle: string; points: number; occurredOn: string }[];
}
interface Boards {
  villageId: string;
  month: string;
  red: Row[];
  black: Row[];
  blackListEnabled: boolean;
  /** The village's place in the county's stored monthly ranking (考评指数) of that month. */
  ranking: { period: string; rank: number; index: number; of: number } | null;
}

/** The month before a YYYY-MM month. */
function monthBefore(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

/** The lists, the ranking line and the footer: the same on both ways in. */
function BoardView(p: {
  title: string;
  month: string;
  boards: Boards | undefined;
  ranking: Boards['ranking'];
  error: string;
  updatedAt: string;
  children?: preact.ComponentChildren;
  foot?: preact.ComponentChildren;
}) {
  const [y, m] = p.month.split('-');
  const { boards, ranking, month } = p;
  return (
    <div class="board">
      <h1>
        {p.title} 道德红黑榜 · {y}年{Number(m)}月
      </h1>
      {p.children}
      {ranking ? (
        <p class="board-rank">
          {ranking.period === month ? '本月' : `${Number(ranking.period.split('-')[1])}月`}
          考评指数 第 {ranking.rank} 名 / 共 {ranking.of} 个村
        </p>
      ) : null}
      {p.error ? <Alert kind="error">{p.error}</Alert> : null}
      {boards ? (
        <div class="board-lists">
          <section class="red" aria-labelledby="red-h">
            <h2 id="red-h">红榜 · 表彰</h2>
            {boards.red.length ? (
              <ol>
                {boards.red.map((r, i) => (
                  <li key={i}>
                    <span class="name">{r.name}</span> <span class="pts">+{r.points}分</span>
                    <span class="why">{r.items.map((x) => x.ruleTitle).join('、')}</span>
                  </li>
                ))}
              </ol>
            ) : (
              <p class="none">本月还没有上榜的。</p>
            )}
          </section>
          <section class="black" aria-labelledby="black-h">
            <h2 id="black-h">黑榜 · 曝光</h2>
            {!boards.blackListEnabled ? (
              <p class="none">本村没有开设黑榜。</p>
            ) : boards.black.length ? (
              <ol>
                {boards.black.map((r, i) => (
                  <li key={i}>
                    <span class="name">{r.name}</span> <span class="pts">{r.points}分</span>
                    <span class="why">{r.items.map((x) => x.ruleTitle).join('、')}</span>
                  </li>
                ))}
              </ol>
            ) : (
              <p class="none">本月没有。扣分入账满 30 天且无申诉成立才会上黑榜。</p>
            )}
          </section>
        </div>
      ) : null}
      <p class="board-foot">
        姓名只显示首尾字（本户同意公开的除外） · 每分钟自动刷新
        {p.updatedAt ? ` · 更新于 ${beijing(p.updatedAt)}` : ''}
        {p.foot}
      </p>
    </div>
  );
}

/** A tick that advances every REFRESH_MS, so the boards are read again. */
function useRefreshTick(): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), REFRESH_MS);
    return () => clearInterval(t);
  }, []);
  return tick;
}

/** The time the data last arrived (ISO), for the footer. */
function useUpdatedAt(data: unknown): string {
  const [updatedAt, setUpdatedAt] = useState('');
  useEffect(() => {
    if (data) setUpdatedAt(new Date().toISOString());
  }, [data]);
  return updatedAt;
}

export function BoardPage() {
  const me = session.get()?.me;
  const villages = useLoad(
    () => get<{ items: { id: string; name: string }[] }>('/v1/villages').then((r) => r.items),
    [],
  );
  const [villageId, setVillageId] = useState(me?.villageId ?? '');
  const tick = useRefreshTick();
  const vid = villageId || villages.data?.[0]?.id || '';
  const month = thisMonthCst();
  const boards = useLoad(
    () => (vid ? get<Boards>(`/v1/villages/${vid}/boards`, { month }) : Promise.resolve(undefined)),
    [vid, tick],
  );
  // A month is ranked once it has ended: the running month's board shows last month's place,
  // read once (it changes monthly, not by the minute).
  const earlier = useLoad(
    () =>
      vid
        ? get<Boards>(`/v1/villages/${vid}/boards`, { month: monthBefore(month) })
        : Promise.resolve(undefined),
    [vid],
  );
  const updatedAt = useUpdatedAt(boards.data);
  const name = villages.data?.find((v) => v.id === vid)?.name ?? '';
  return (
    <BoardView
      title={name}
      month={month}
      boards={boards.data}
      ranking={boards.data?.ranking ?? earlier.data?.ranking ?? null}
      error={boards.error ? `${describeError(boards.error)}（一分钟后自动重试）` : ''}
      updatedAt={updatedAt}
      foot={
        <Link href={(me && HOME_OF[me.role]) ?? '/'} class="no-print">
          返回
        </Link>
      }
    >
      {me?.role === 'admin' && villages.data && villages.data.length > 1 ? (
        <div class="no-print board-pick">
          <Select
            label="村"
            name="village"
            value={vid}
            onValue={setVillageId}
            options={villages.data.map((v) => ({ value: v.id, label: v.name }))}
          />
        </div>
      ) : null}
    </BoardView>
  );
}

/** Where a station screen keeps its board link's secret (this browser only). */
export const BOARD_LINK_KEY = 'msl.boardLink';

/**
 * The secret from the address's fragment (`#<secret>`, never sent to the server), moved into
 * this browser's storage and taken off the address bar, so a photo of the screen or the browser's
 * history does not show it.
 */
function takeSecret(): string {
  const fromHash = location.hash.replace(/^#/, '');
  if (/^[A-Za-z0-9_-]{43}$/.test(fromHash)) {
    try {
      localStorage.setItem(BOARD_LINK_KEY, fromHash);
    } catch {
      // Storage refused (private mode): the screen still works until it is reloaded.
    }
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  try {
    return localStorage.getItem(BOARD_LINK_KEY) ?? '';
  } catch {
    return '';
  }
}

type Display = Boards & { villageName: string; label: string };

async function readDisplay(secret: string, month: string): Promise<Display> {
  let res: Response;
  try {
    res = await fetch(`/v1/board-display?month=${month}`, { headers: { 'board-link': secret } });
  } catch {
    throw new NetworkError();
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new ApiError(res.status, String(json.code ?? `http_${res.status}`), '');
  return json as unknown as Display;
}

/** The station screen: opened by its board link, no sign-in, refreshing every minute. */
export function DisplayPage() {
  const [secret] = useState(takeSecret);
  const tick = useRefreshTick();
  const month = thisMonthCst();
  const boards = useLoad(
    () => (secret ? readDisplay(secret, month) : Promise.resolve(undefined)),
    [secret, tick],
  );
  const earlier = useLoad(
    () => (secret ? readDisplay(secret, monthBefore(month)) : Promise.resolve(undefined)),
    [secret],
  );
  // The last good lists stay on the screen through a network outage.
  const [last, setLast] = useState<Display | undefined>(undefined);
  useEffect(() => {
    if (boards.data) setLast(boards.data);
  }, [boards.data]);
  const updatedAt = useUpdatedAt(boards.data);
  const revoked = boards.error instanceof ApiError && boards.error.status === 401;
  const error = !secret
    ? '这台大屏还没有大屏链接。请村文书在“村文书工作台 → 大屏链接”生成链接，并在本机浏览器中打开。'
    : revoked
      ? '这个大屏链接已失效（已被撤销）。请村文书生成新的大屏链接，并在本机浏览器中打开。'
      : boards.error
        ? `${describeError(boards.error)}（一分钟后自动重试）`
        : '';
  const shown = revoked ? undefined : (boards.data ?? last);
  return (
    <BoardView
      title={(boards.data ?? last)?.villageName ?? ''}
      month={month}
      boards={shown}
      ranking={shown?.ranking ?? earlier.data?.ranking ?? null}
      error={error}
      updatedAt={updatedAt}
    />
  );
}
