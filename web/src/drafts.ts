/**
 * Form drafts kept in sessionStorage on every keystroke, so that an expired session (sign-in
 * again) or a reload never loses what was typed. A draft is dropped once its form is sent.
 */
import { useCallback, useState } from 'preact/hooks';

const PREFIX = 'msl.draft.';

function read<T>(key: string, initial: T): T {
  try {
    const raw = sessionStorage.getItem(PREFIX + key);
    return raw ? { ...initial, ...(JSON.parse(raw) as T) } : initial;
  } catch {
    return initial;
  }
}

/** The members of a draft that hold text (what an input edits). */
type TextKeys<T> = { [K in keyof T]: T[K] extends string ? K : never }[keyof T] & string;

/** What a Field, TextArea or Select needs to edit one member of a draft. */
export interface Bound {
  value: string;
  onValue: (v: string) => void;
}

/**
 * A form's draft: its value, a patch, a clear (once sent) and `bind(member)`, the value and
 * onValue of the field that edits that member (`<Field label=… {...bind('name')} />`).
 */
export function useDraft<T extends Record<string, unknown>>(
  key: string,
  initial: T,
): [T, (patch: Partial<T>) => void, () => void, (member: TextKeys<T>) => Bound] {
  const [value, setValue] = useState<T>(() => read(key, initial));
  const update = useCallback(
    (patch: Partial<T>) =>
      setValue((v) => {
        const next = { ...v, ...patch };
        try {
          sessionStorage.setItem(PREFIX + key, JSON.stringify(next));
        } catch {
          // Storage full or disabled: the form still works, only the draft is not kept.
        }
        return next;
      }),
    [key],
  );
  const clear = useCallback(() => {
    sessionStorage.removeItem(PREFIX + key);
    setValue(initial);
  }, [key]);
  const bind = (member: TextKeys<T>): Bound => ({
    value: value[member] as string,
    onValue: (v: string) => update({ [member]: v } as Partial<T>),
  });
  return [value, update, clear, bind];
}

/** Forgets every draft of this tab (signing out, or another account signing in). */
export function clearDrafts(): void {
  for (let i = sessionStorage.length - 1; i >= 0; i--) {
    const key = sessionStorage.key(i);
    if (key?.startsWith(PREFIX)) sessionStorage.removeItem(key);
  }
}
