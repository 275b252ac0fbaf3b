/** Shared pieces of every page: labelled fields, messages, tabs, data loading. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './messages';
import { BASE, navigate } from './router';

let nextId = 0;
export function useId(prefix: string): string {
  const ref = useRef<string | undefined>(undefined);
  if (!ref.current) ref.current = `${prefix}-${++nextId}`;
  return ref.current;
}

interface Labelled {
  label: string;
  error?: string;
  hint?: string;
  required?: boolean;
}

interface FieldProps extends Labelled {
  value: string;
  onValue: (v: string) => void;
  type?: 'text' | 'password' | 'date' | 'number' | 'search';
  name?: string;
  autoFocus?: boolean;
  inputMode?: 'numeric' | 'decimal' | 'text' | 'search';
  autoComplete?: string;
  placeholder?: string;
  onEnter?: () => void;
  inputRef?: { current: HTMLInputElement | null };
  disabled?: boolean;
  min?: string;
  max?: string;
  step?: string;
  class?: string;
}

/**
 * The label, hint and error around one control, tied to it for screen readers: the control
 * gets `id` and, from `describedBy`, its aria-describedby.
 */
function FieldShell(p: Labelled & { id: string; class?: string; children: ComponentChildren }) {
  return (
    <div class={`field ${p.class ? `${p.class} ` : ''}${p.error ? 'has-error' : ''}`}>
      <label for={p.id}>
        {p.label}
        {p.required ? <span class="req"> （必填）</span> : null}
      </label>
      {p.children}
      {p.hint ? (
        <p class="hint" id={`${p.id}-hint`}>
          {p.hint}
        </p>
      ) : null}
      {p.error ? (
        <p class="error" id={`${p.id}-err`}>
          {p.error}
        </p>
      ) : null}
    </div>
  );
}

/** The ARIA attributes of a control inside FieldShell. */
function describedBy(id: string, p: Labelled) {
  return {
    'aria-invalid': p.error ? ('true' as const) : undefined,
    'aria-describedby':
      [p.error ? `${id}-err` : '', p.hint ? `${id}-hint` : ''].filter(Boolean).join(' ') ||
      undefined,
  };
}

/** A labelled input; its error and hint are tied to it for screen readers. */
export function Field(p: FieldProps) {
  const id = useId(p.name ?? 'f');
  return (
    <FieldShell {...p} id={id}>
      <input
        id={id}
        name={p.name}
        type={(p.type ?? 'text') as 'text'}
        value={p.value}
        ref={p.inputRef}
        required={p.required}
        autoFocus={p.autoFocus}
        inputMode={p.inputMode}
        autoComplete={p.autoComplete ?? 'off'}
        placeholder={p.placeholder}
        disabled={p.disabled}
        min={p.min}
        max={p.max}
        step={p.step}
        {...describedBy(id, p)}
        onInput={(e) => p.onValue((e.currentTarget as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && p.onEnter) {
            e.preventDefault();
            p.onEnter();
          }
        }}
      />
    </FieldShell>
  );
}

export function TextArea(
  p: Labelled & {
    value: string;
    onValue: (v: string) => void;
    name?: string;
    rows?: number;
  },
) {
  const id = useId(p.name ?? 'ta');
  return (
    <FieldShell {...p} id={id}>
      <textarea
        id={id}
        name={p.name}
        rows={p.rows ?? 3}
        value={p.value}
        required={p.required}
        {...describedBy(id, p)}
        onInput={(e) => p.onValue((e.currentTarget as HTMLTextAreaElement).value)}
      />
    </FieldShell>
  );
}

export function Select(
  p: Labelled & {
    value: string;
    onValue: (v: string) => void;
    options: { value: string; label: string }[];
    name?: string;
    placeholder?: string;
  },
) {
  const id = useId(p.name ?? 's');
  return (
    <FieldShell {...p} id={id}>
      <select
        id={id}
        name={p.name}
        value={p.value}
        required={p.required}
        {...describedBy(id, p)}
        onChange={(e) => p.onValue((e.currentTarget as HTMLSelectElement).value)}
      >
        {p.placeholder !== undefined ? <option value="">{p.placeholder}</option> : null}
        {p.options.map((o) => (
          <option value={o.value} key={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </FieldShell>
  );
}

export function Alert({
  kind,
  children,
}: {
  kind: 'error' | 'ok' | 'info' | 'warn';
  children: ComponentChildren;
}) {
  return (
    <div
      class={`alert alert-${kind}`}
      role={kind === 'error' || kind === 'warn' ? 'alert' : 'status'}
    >
      {children}
    </div>
  );
}

export function ErrorText({ error, labels }: { error: unknown; labels?: Record<string, string> }) {
  if (!error) return null;
  return <Alert kind="error">{describeError(error, labels)}</Alert>;
}

/** Links to the tabs of a role's page; the current one is marked for screen readers. */
export function Tabs({
  tabs,
  current,
}: {
  tabs: { path: string; label: string }[];
  current: string;
}) {
  return (
    <nav class="tabs" aria-label="功能">
      {tabs.map((t) => (
        <Link href={t.path} key={t.path} current={t.path === current}>
          {t.label}
        </Link>
      ))}
    </nav>
  );
}

export function Link({
  href,
  children,
  current,
  class: cls,
}: {
  href: string;
  children: ComponentChildren;
  current?: boolean;
  class?: string;
}) {
  return (
    <a
      href={`${BASE}${href}`}
      class={cls}
      aria-current={current ? 'page' : undefined}
      onClick={(e: MouseEvent) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

/** Loads data on mount and when `deps` change; `reload` loads again. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error: unknown) => live && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function Loading({ what }: { what?: string }) {
  return (
    <p class="loading" role="status">
      正在读取{what ?? ''}…
    </p>
  );
}

export function Section({
  title,
  children,
  id,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  id?: string;
  actions?: ComponentChildren;
}) {
  return (
    <section class="card" aria-labelledby={id ? `${id}-h` : undefined}>
      <div class="card-head">
        <h2 id={id ? `${id}-h` : undefined}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** A status badge in words (never colour alone). */
export function Badge({
  tone,
  children,
}: {
  tone: 'good' | 'bad' | 'wait' | 'plain';
  children: ComponentChildren;
}) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

/** Reads a file as a data: URL (allowed by a strict CSP's img-src, unlike blob: URLs). */
export function blobToDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

/** Saves a blob as a file download. */
export function download(blob: Blob, filename: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** The 刷新 button of a list's heading. */
export function RefreshButton({ onClick }: { onClick: () => void }) {
  return (
    <button type="button" onClick={onClick}>
      刷新
    </button>
  );
}

/** What a loading list says while it loads, and its problem if it failed. */
export function LoadStatus({
  of,
  what,
}: {
  of: { loading: boolean; error: unknown };
  what?: string;
}) {
  return (
    <>
      {of.loading ? <Loading what={what} /> : null}
      {of.error ? <Alert kind="error">{describeError(of.error)}</Alert> : null}
    </>
  );
}

/** What became of an action: its confirmation or its problem, each announced. */
export function Outcome({ of }: { of: { ok?: string; error?: string } }) {
  return (
    <>
      {of.ok ? <Alert kind="ok">{of.ok}</Alert> : null}
      {of.error ? <Alert kind="error">{of.error}</Alert> : null}
    </>
  );
}

/** What a role's page shows at `path`: the view of that tab, or `otherwise` (its first tab). */
export function byPath(
  path: string,
  views: Record<string, ComponentChildren>,
  otherwise: ComponentChildren,
): ComponentChildren {
  return Object.prototype.hasOwnProperty.call(views, path) ? views[path] : otherwise;
}
