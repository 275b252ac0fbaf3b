/**
 * Runs `fn` over `items` with at most `atOnce` calls under way, in the items' order; rejects with
 * the first error (the calls already under way still run to their end).
 */
export async function eachAtOnce<T>(
  items: readonly T[],
  atOnce: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, items.length) }, worker));
}
