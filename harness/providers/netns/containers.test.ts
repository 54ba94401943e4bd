// Container restarts per restartPolicy, with back-off and restartCount, and the pod phase derived
// from its containers, against fake containers that exit when told to.
import { describe, expect, it } from 'vitest';
import { ContainerRunner, podStatusOf, type StartedContainer } from './containers.js';

function fakeLaunches() {
  const exits: Array<(code: number) => void> = [];
  const launch = async (): Promise<StartedContainer> => {
    let exit!: (r: { code: number | null; signal: NodeJS.Signals | null }) => void;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => (exit = r));
    exits.push((code) => exit({ code, signal: null }));
    return { exited, stop: async () => exit({ code: 143, signal: null }) };
  };
  return { launch, exits };
}
const flush = () => new Promise((r) => setTimeout(r, 5));

describe('container lifecycle', () => {
  it('Never: an exit 0 is Succeeded, a non-zero exit is Failed, and nothing restarts', async () => {
    for (const [code, phase, reason] of [[0, 'Succeeded', 'Completed'], [2, 'Failed', 'Error']] as const) {
      const f = fakeLaunches();
      const c = new ContainerRunner('main', 'img', 'Never', f.launch, () => undefined);
      await c.start();
      expect(podStatusOf([c]).phase).toBe('Running');
      f.exits[0]!(code);
      await flush();
      const st = podStatusOf([c]);
      expect(st.phase).toBe(phase);
      expect(st.containerStatuses[0]).toMatchObject({ ready: false, restartCount: 0, state: { terminated: { exitCode: code, reason } } });
      expect(st.conditions.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
      expect(f.exits).toHaveLength(1);
    }
  });

  it('Always: restarts after a back-off, counts restarts, keeps the last termination', async () => {
    const f = fakeLaunches();
    const c = new ContainerRunner('main', 'img', 'Always', f.launch, () => undefined);
    await c.start();
    f.exits[0]!(1);
    await flush();
    expect(c.status()).toMatchObject({ ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } });
    expect(podStatusOf([c]).phase).toBe('Running');
    await new Promise((r) => setTimeout(r, 1100));
    expect(c.status()).toMatchObject({ ready: true, restartCount: 1, state: { running: {} } });
    f.exits[1]!(0);
    await new Promise((r) => setTimeout(r, 1100));
    expect(c.restartCount).toBe(1); // the second back-off is 2 s
    await c.stop();
  });

  it('OnFailure: restarts a failed container but not a completed one', async () => {
    const f = fakeLaunches();
    const c = new ContainerRunner('main', 'img', 'OnFailure', f.launch, () => undefined);
    await c.start();
    f.exits[0]!(0);
    await flush();
    expect(podStatusOf([c]).phase).toBe('Succeeded');
    await c.stop();
  });
});
