// Deliberate harness faults for mutation testing (`cnilab selftest`): the harness's own judgement
// broken on purpose, to prove the suites' controls notice a harness that would pass anything. Read
// here and nowhere else, at each use, from CNILAB_FAULT_HARNESS=name[,name…] (selftest sets it for the
// run of one mutation and clears it after). Unset: no effect.
export const HARNESS_FAULTS = {
  'probe-timeout-is-ok': "a probe's timeout is read as a success",
  'probe-refused-is-ok': "a probe's refusal is read as a success",
} as const;

export type HarnessFault = keyof typeof HARNESS_FAULTS;

export function harnessFault(name: HarnessFault): boolean {
  const v = process.env.CNILAB_FAULT_HARNESS;
  return !!v && v.split(',').some((s) => s.trim() === name);
}
