/**
 * 道德红黑榜 on the village station's screen: this month's red and black lists, names masked as
 * the boards API masks them, in large type, refreshing by itself every minute.
 */
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api';
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

export function BoardPage() {
  const me = session.get()?.me;
  const villages = useLoad(
    () => get<{ items: { id: string; name: string }[] }>('/v1/villages').then((r) => r.items),
    [],
  );
  const [villageId, setVillageId] = useState(me?.villageId ?? '');
  const [tick, setTick] = useState(0);
  const [updatedAt, setUpdatedAt] = useState('');
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
  const ranking = boards.data?.ranking ?? earlier.data?.ranking ?? null;
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), REFRESH_MS);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    if (boards.data) setUpdatedAt(new Date().toISOString());
  }, [boards.data]);
  const name = villages.data?.find((v) => v.id === vid)?.name ?? '';
  const [y, m] = month.split('-');

  return (
    <div class="board">
      <h1>
        {name} 道德红黑榜 · {y}年{Number(m)}月
      </h1>
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
      {ranking ? (
        <p class="board-rank">
          {ranking.period === month ? '本月' : `${Number(ranking.period.split('-')[1])}月`}
          考评指数 第 {ranking.rank} 名 / 共 {ranking.of} 个村
        </p>
      ) : null}
      {boards.error ? (
        <Alert kind="error">{describeError(boards.error)}（一分钟后自动重试）</Alert>
      ) : null}
      {boards.data ? (
        <div class="board-lists">
          <section class="red" aria-labelledby="red-h">
            <h2 id="red-h">红榜 · 表彰</h2>
            {boards.data.red.length ? (
              <ol>
                {boards.data.red.map((r, i) => (
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
            {!boards.data.blackListEnabled ? (
              <p class="none">本村没有开设黑榜。</p>
            ) : boards.data.black.length ? (
              <ol>
                {boards.data.black.map((r, i) => (
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
        姓名只显示首尾字（本户同意公开的除外） · 每分钟自动刷新 · 更新于 {beijing(updatedAt)}
        <Link href={(me && HOME_OF[me.role]) ?? '/'} class="no-print">
          返回
        </Link>
      </p>
    </div>
  );
}
