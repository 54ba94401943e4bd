// Maglev consistent hashing (Eisenbud et al., NSDI 2016), as Cilium builds its per-service lookup tables:
// each backend gets a permutation of the table's M slots from two hashes of its name (offset, skip), and
// backends take turns claiming their next free preferred slot until the table is full. A flow hashes to a
// slot; removing a backend only frees its own slots, and the other backends' slots mostly stay theirs
// (with M = 16381 and 3 backends, more than 99% of them: agent/service/maglev.test.ts checks it).
import { LB_MAGLEV_M } from '../datapath/constants.js';

/** 32-bit FNV-1a with a seed mixed in: enough spread for offsets and skips, stable across runs. */
function fnv1a(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche (murmur3's fmix32): FNV alone leaves the low bits of similar names correlated
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The lookup table: `names` identify the backends ("ip:port"), `ids` are what the table holds. The
 * result depends only on the set of names (not their order) and on M.
 */
export function maglevTable(backends: Array<{ name: string; id: number }>, m = LB_MAGLEV_M): Uint32Array {
  const table = new Uint32Array(m);
  if (backends.length === 0) return table;
  const sorted = [...backends].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const n = sorted.length;
  const offset = sorted.map((b) => fnv1a(b.name, 0x5bd1e995) % m);
  const skip = sorted.map((b) => (fnv1a(b.name, 0x27d4eb2f) % (m - 1)) + 1);
  const next = new Uint32Array(n);
  const taken = new Uint8Array(m);
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      let c = (offset[i]! + next[i]! * skip[i]!) % m;
      while (taken[c]) {
        next[i]!++;
        c = (offset[i]! + next[i]! * skip[i]!) % m;
      }
      taken[c] = 1;
      table[c] = sorted[i]!.id;
      next[i]!++;
      if (++filled === m) return table;
    }
  }
}
