// Truth tables of the oracle over the x/y/z × a/b/c model, in the compact form the tests write by
// hand: one string per source pod (rows x/a … z/c), one character per destination pod ('.' allowed,
// 'X' blocked), spaces between namespaces ignored.
import type { L4Protocol } from './model.js';
import type { Oracle } from './oracle.js';

export function oracleTable(oracle: Oracle, pods: readonly string[], protocol: L4Protocol, port: number): string[] {
  return pods.map((from) => pods.map((to) => (oracle.allows(from, to, port, protocol) ? '.' : 'X')).join(''));
}

/** Normalize a hand-written table: drop spaces, keep one string per row. */
export function table(rows: string[]): string[] {
  return rows.map((r) => r.replace(/\s+/g, ''));
}

/** A table where every cell is '.', except the given columns (destinations) which are 'X' for every row but their own. */
export function isolatedColumns(pods: readonly string[], columns: readonly string[], allowedFrom: readonly string[] = []): string[] {
  return pods.map((from) => pods.map((to) => (columns.includes(to) && from !== to && !allowedFrom.includes(from) ? 'X' : '.')).join(''));
}
