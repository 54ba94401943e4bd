// CPU pinning for benchmark traffic: the load generator on one CPU, the server on another, so neither
// migrates between cores mid-sample nor competes with the other for the same one — a source of
// sample-to-sample spread on a 2-core machine. With a single CPU there is nothing to separate.
import { availableParallelism } from 'node:os';

export interface BenchCpus {
  client: number;
  server: number;
}

/** Client on CPU 0, servers on the last CPU; undefined on a one-CPU machine. */
export function benchCpus(cpus = availableParallelism()): BenchCpus | undefined {
  return cpus >= 2 ? { client: 0, server: cpus - 1 } : undefined;
}

/** argv run under `taskset -c CPU` (util-linux, installed by bootstrap), or as is without a CPU. */
export function pinned(argv: string[], cpu: number | undefined): string[] {
  return cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv];
}
