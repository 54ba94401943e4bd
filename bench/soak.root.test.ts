// The short soak of CI: four cycles of up, apply, traffic and down with a SIGKILL each (the CLI in
// the middle of up, the daemon during traffic, an agent during apply, the CLI during apply plus the
// workload process), and zero leaks after every cycle. The leak check itself is shown to fail on
// planted leftovers, so a green soak means something. The full soak is bench/soak.ts (50 cycles).
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../harness/exec/run.js';
import { sweep } from '../harness/providers/netns/sweep.js';
import { leaksSince, prepare, runCycle, snapshotHost, type CyclePlan, type CycleResult } from './soak-lib.js';

const NAME = 'soak-ci';
const PLANS: CyclePlan[] = [
  { target: 'cli-up', point: 'after-up', delayMs: 900 },
  { target: 'daemon', point: 'during-traffic', delayMs: 300 },
  // An agent killed during `apply --wait`, 1.3 s in (pods' CNI ADDs in the agent): the apply must
  // ride its restart out (plugin and runtime retry, the agent restores its endpoints).
  { target: 'agent', point: 'during-apply', delayMs: 1300 },
  { target: 'cli-apply', point: 'during-apply', delayMs: 350 },
];

describe('soak (short)', () => {
  afterAll(async () => {
    await sweep(NAME);
    await sweep('soak-plant');
  });

  it('the leak check sees planted leftovers: a namespace, a run file, a socket and a marked process', async () => {
    const base = await snapshotHost();
    const sockPath = `/run/cnilab/soak-plant/s-${process.pid}.sock`;
    // Both carry the marker, so the sweep in afterAll ends them even if an assertion fails first.
    const marker = '--cnilab-cluster=soak-plant';
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', '--', marker], { stdio: 'ignore' });
    const sock = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sockPath)})`, '--', marker], { stdio: 'ignore' });
    try {
      await run(['ip', 'netns', 'add', 'cnilab.soak-plant.fabric']);
      mkdirSync('/run/cnilab/soak-plant', { recursive: true });
      writeFileSync('/run/cnilab/soak-plant/x', '');
      await new Promise((r) => setTimeout(r, 800));
      const leaks = leaksSince(base, await snapshotHost(), 'soak-plant');
      expect(leaks).toEqual(
        expect.arrayContaining([
          'netns cnilab.soak-plant.fabric',
          'run file /run/cnilab/soak-plant/x',
          `unix socket ${sockPath}`,
          expect.stringMatching(/^cnilab process \d+: .*setTimeout.* --cnilab-cluster=soak-plant$/),
        ]),
      );
      // Another cluster's leftovers are not the soak's.
      expect(leaksSince(base, await snapshotHost(), 'other')).toEqual([]);
    } finally {
      sleeper.kill('SIGKILL');
      sock.kill('SIGKILL');
      await sweep('soak-plant');
      rmSync('/run/cnilab/soak-plant', { recursive: true, force: true });
    }
  });

  it('four cycles with a SIGKILL each leave nothing behind', async () => {
    const { base, others } = await prepare(NAME);
    const results: CycleResult[] = [];
    for (const [i, plan] of PLANS.entries()) {
      results.push(await runCycle(i, plan, base, { name: NAME, nodes: 2, cni: 'cnilab', log: () => undefined, allowDownAll: !others }));
    }
    for (const r of results) {
      expect(r.leftAfterDown, `cycle ${r.cycle} (${r.plan.target}): down left`).toEqual([]);
      expect(r.leftAfterAll).toEqual([]);
      expect(r.downCode, `cycle ${r.cycle} (${r.plan.target}): ${r.downError}`).toBe(0);
    }
    // The kills happened (the plan is not vacuous), and the daemon and agent kills were survived.
    expect(results.map((r) => r.killed)).toEqual([
      expect.stringMatching(/the CLI during up/),
      expect.stringMatching(/cluster daemon \(pid \d+\)/),
      expect.stringMatching(/agent node\d \(pid \d+\)|agent --node=node\d/),
      expect.stringMatching(/the CLI during apply/),
    ]);
    expect(results[1]!.probes.tried).toBeGreaterThan(0);
    expect(results[2]!.applyCode).toBe(0);
    expect(results[2]!.probes.tried).toBeGreaterThan(0);
  });
});
