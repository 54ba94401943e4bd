// A small seeded pseudo-random generator, for runs that must be replayable from their seed (the soak's
// kill plan) and for tests whose synthetic samples must be the same every run. Not for anything secret.

/**
 * mulberry32: a 32-bit state, period 2^32, uniform floats in [0, 1). The seed is taken modulo 2^32, so
 * equal seeds (and seeds equal modulo 2^32) give the same sequence.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
