// Bounded concurrency for network probes: the scenario runner's probe batches, the policy prober's
// truth-table probes and the harness's probeMany all run many short probes and want at most N in
// flight (too many at once and the probes themselves become the load that makes them time out).

/** Run `fn` over `items` with at most `limit` in flight (at least one); results keep the order of `items`. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
