// The Kubernetes API of a real embedded cluster, driven by the real kubectl on PATH and by
// @kubernetes/client-node: apply xyz.yaml, 9 Running pods with IPs and nodes, label, delete,
// `kubectl get pods --watch` seeing the changes, a Deployment spread over 3 nodes and scaled,
// DaemonSet, exec over WebSocket (kubectl and client-node), logs, and a container that exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT } from '../../paths.js';
import { run } from '../../exec/run.js';

const CLUSTER = 'kapi-kubectl';
const CLI = `${REPO_ROOT}/bin/cnilab`;
let KUBECONFIG = '';

async function kubectl(args: string[], opts: { input?: string; allowFailure?: boolean } = {}) {
  return run(['kubectl', ...args], { env: { KUBECONFIG }, timeoutMs: 60_000, input: opts.input, allowFailure: opts.allowFailure });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

async function pods(selector: string, ns = 'default'): Promise<any[]> {
  return JSON.parse((await kubectl(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json'])).stdout).items;
}

beforeAll(async () => {
  await run([CLI, 'down', '--name', CLUSTER], { allowFailure: true });
  await run([CLI, 'up', '--name', CLUSTER, '--nodes', '3', '-q'], { timeoutMs: 90_000 });
  KUBECONFIG = (await run([CLI, 'kubeconfig', '--name', CLUSTER])).stdout.trim();
});
afterAll(async () => {
  await run([CLI, 'down', '--name', CLUSTER], { allowFailure: true, timeoutMs: 60_000 });
});

describe('kubectl against the embedded cluster', () => {
  let watcher: ChildProcess | undefined;
  let watched = '';

  it('applies xyz.yaml and lists 9 Running pods with IPs and nodes; get -o wide/json/yaml/jsonpath', async () => {
    // The watch starts first, so it sees the pods being created, labelled and deleted.
    watcher = spawn('kubectl', ['get', 'pods', '-n', 'x', '--watch', '--output-watch-events'], { env: { ...process.env, KUBECONFIG } });
    watcher.stdout!.on('data', (b: Buffer) => (watched += b.toString()));
    const applied = await kubectl(['apply', '-f', `${REPO_ROOT}/scenarios/manifests/xyz.yaml`]);
    expect(applied.stdout).toContain('pod/a created');
    const wide = await until('9 Running pods', async () => {
      const out = (await kubectl(['get', 'pods', '-A', '-o', 'wide', '--no-headers'])).stdout.trim().split('\n');
      return out.length === 9 && out.every((l) => /\bRunning\b/.test(l)) ? out : undefined;
    });
    for (const line of wide) {
      const cols = line.split(/\s+/);
      expect(cols[2]).toBe('4/4'); // READY
      expect(cols[6]).toMatch(/^198\.19\.\d+\.\d+$/); // IP
      expect(cols[7]).toMatch(/^node[123]$/); // NODE
    }
    expect(new Set(wide.map((l) => l.split(/\s+/)[7])).size).toBe(3);
    const json = JSON.parse((await kubectl(['get', 'pod', '-n', 'x', 'a', '-o', 'json'])).stdout);
    expect(json).toMatchObject({ kind: 'Pod', metadata: { name: 'a', namespace: 'x' }, status: { phase: 'Running' } });
    expect(json.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    expect((await kubectl(['get', 'pod', '-n', 'x', 'a', '-o', 'yaml'])).stdout).toMatch(/^kind: Pod$/m);
    expect((await kubectl(['get', 'pod', '-n', 'x', 'a', '-o', 'jsonpath={.status.podIP}'])).stdout).toBe(json.status.podIP);
    // Applying again changes nothing.
    expect((await kubectl(['apply', '-f', `${REPO_ROOT}/scenarios/manifests/xyz.yaml`])).stdout).toContain('pod/a unchanged');
  });

  it('labels, annotates and deletes a pod; the watch saw every change as it happened', async () => {
    await kubectl(['label', 'pod', '-n', 'x', 'a', 'tier=front']);
    await kubectl(['annotate', 'pod', '-n', 'x', 'a', 'note=hello']);
    const a = JSON.parse((await kubectl(['get', 'pod', '-n', 'x', 'a', '-o', 'json'])).stdout);
    expect(a.metadata.labels.tier).toBe('front');
    expect(a.metadata.annotations.note).toBe('hello');
    expect((await kubectl(['get', 'pods', '-n', 'x', '-l', 'tier=front', '-o', 'name'])).stdout.trim()).toBe('pod/a');
    expect((await kubectl(['delete', 'pod', '-n', 'x', 'b'])).stdout).toContain('pod "b" deleted');
    const gone = await kubectl(['get', 'pod', '-n', 'x', 'b'], { allowFailure: true });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('Error from server (NotFound): pods "b" not found');
    await until('the watch to show the deletion', async () => (/^DELETED\s+b\s/m.test(watched) ? true : undefined), 10_000);
    watcher?.kill();
    // Created (Pending → Running), modified by the label, then deleted: in that order.
    const firstAdd = watched.search(/^ADDED\s+b\s/m);
    const running = watched.search(/^MODIFIED\s+b\s+4\/4\s+Running/m);
    const deleted = watched.search(/^DELETED\s+b\s/m);
    expect(firstAdd, watched).toBeGreaterThanOrEqual(0);
    expect(running).toBeGreaterThan(firstAdd);
    expect(deleted).toBeGreaterThan(running);
    expect(watched).toMatch(/^MODIFIED\s+a\s/m);
    expect((await kubectl(['describe', 'pod', '-n', 'x', 'a'])).stdout).toMatch(/Labels:\s+pod=a\s+tier=front/);
  });

  it('execs over WebSocket: kubectl exec and client-node Exec, with exit codes', async () => {
    const ok = await kubectl(['exec', '-n', 'x', 'a', '--', 'sh', '-c', 'echo out-$HOSTNAME; echo err >&2']);
    expect(ok.stdout).toBe('out-a\n');
    expect(ok.stderr).toContain('err');
    const bad = await kubectl(['exec', '-n', 'x', 'a', '--', 'sh', '-c', 'exit 3'], { allowFailure: true });
    expect(bad.code).toBe(3);
    // stdin reaches the command (v5 closes it with channel 255).
    const cat = await kubectl(['exec', '-i', '-n', 'x', 'a', '--', 'cat'], { input: 'through stdin\n' });
    expect(cat.stdout).toBe('through stdin\n');
    // The pod's own network: agnhost connect from x/a to x/c.
    const c = JSON.parse((await kubectl(['get', 'pod', '-n', 'x', 'c', '-o', 'json'])).stdout);
    const probe = await kubectl(['exec', '-n', 'x', 'a', '--', 'agnhost', 'connect', `${c.status.podIP}:80`, '--timeout=2s', '--protocol=tcp']);
    expect(probe.code).toBe(0);

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(KUBECONFIG);
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString()));
    const status = await new Promise<k8s.V1Status>((resolve, reject) => {
      new k8s.Exec(kc).exec('x', 'a', 'cont-80-tcp', ['sh', '-c', 'echo from-client-node; exit 4'], out, null, null, false, resolve).catch(reject);
    });
    expect(text).toBe('from-client-node\n');
    expect(status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '4' }] } });
  });
});

describe('workloads through kubectl', () => {
  const deployment = (replicas: number, version = '1') => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, version: "${version}"}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.47
        args: [netexec, --http-port=8080]
`;
  const running = async (n: number) =>
    until(`${n} Running web pods`, async () => {
      const ps = (await pods('app=web')).filter((p) => !p.metadata.deletionTimestamp);
      return ps.length === n && ps.every((p) => p.status.phase === 'Running') ? ps : undefined;
    });

  it('a Deployment of 6 spreads over 3 nodes, scales to 2 and back to 6, and replaces pods on a template change', async () => {
    await kubectl(['apply', '-f', '-'], { input: deployment(6) });
    const six = await running(6);
    const perNode = new Map<string, number>();
    for (const p of six) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
    expect([...perNode.values()]).toEqual([2, 2, 2]);
    expect(six.every((p) => p.metadata.ownerReferences[0].kind === 'ReplicaSet')).toBe(true);
    await until('deployment ready 6/6', async () => ((await kubectl(['get', 'deploy', 'web', '--no-headers'])).stdout.split(/\s+/)[1] === '6/6' ? true : undefined));
    expect((await kubectl(['scale', 'deployment', 'web', '--replicas=2'])).stdout).toContain('scaled');
    await running(2);
    await kubectl(['scale', 'deployment', 'web', '--replicas=6']);
    const back = await running(6);
    const oldNames = new Set(back.map((p) => p.metadata.name));
    await kubectl(['apply', '-f', '-'], { input: deployment(6, '2') });
    await until('6 Running pods of the new template', async () => {
      const ps = (await pods('app=web,version=2')).filter((p) => p.status.phase === 'Running');
      const old = await pods('app=web,version=1');
      return ps.length === 6 && old.length === 0 ? true : undefined;
    });
    expect((await pods('app=web')).some((p) => oldNames.has(p.metadata.name))).toBe(false);
    const rs = JSON.parse((await kubectl(['get', 'rs', '-l', 'app=web', '-o', 'json'])).stdout).items;
    expect(rs.map((r: any) => r.spec.replicas).sort()).toEqual([0, 6]);
  });

  it('deleting the Deployment removes its ReplicaSets and pods', async () => {
    await kubectl(['delete', 'deployment', 'web']);
    await until('no web pods and no ReplicaSets', async () => {
      const left = (await pods('app=web')).length + JSON.parse((await kubectl(['get', 'rs', '-o', 'json'])).stdout).items.length;
      return left === 0 ? true : undefined;
    });
  });

  it('a DaemonSet runs one pod per node', async () => {
    await kubectl(['apply', '-f', '-'], {
      input: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: probe}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec:
      containers: [{name: pause, image: registry.k8s.io/e2e-test-images/agnhost:2.47, args: [pause]}]
`,
    });
    const ds = await until('3 Running daemon pods', async () => {
      const ps = await pods('app=probe');
      return ps.length === 3 && ps.every((p) => p.status.phase === 'Running') ? ps : undefined;
    });
    expect(ds.map((p) => p.spec.nodeName).sort()).toEqual(['node1', 'node2', 'node3']);
    await kubectl(['delete', 'daemonset', 'probe']);
    await until('daemon pods gone', async () => ((await pods('app=probe')).length === 0 ? true : undefined));
  });

  it('pod status tells the truth: Succeeded, Failed, and restarts with back-off; logs through the API', async () => {
    const pod = (name: string, script: string, restartPolicy: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: ${restartPolicy}
  containers: [{name: main, image: debian:12, command: [sh, -c, '${script}']}]
`;
    await kubectl(['apply', '-f', '-'], { input: [pod('done', 'echo line one; echo line two; exit 0', 'Never'), pod('broken', 'echo bye; exit 7', 'Never'), pod('flappy', 'echo start; exit 1', 'Always')].join('---\n') });
    const phase = (name: string) => async () => JSON.parse((await kubectl(['get', 'pod', name, '-o', 'json'])).stdout).status;
    const done = await until('done Succeeded', async () => ((await phase('done')()).phase === 'Succeeded' ? await phase('done')() : undefined));
    expect(done.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    const broken = await until('broken Failed', async () => ((await phase('broken')()).phase === 'Failed' ? await phase('broken')() : undefined));
    expect(broken.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 7, reason: 'Error' });
    const flappy = await until('flappy restarted twice', async () => {
      const st = await phase('flappy')();
      return st.containerStatuses?.[0]?.restartCount >= 2 ? st : undefined;
    });
    expect(flappy.phase).toBe('Running');
    expect(flappy.containerStatuses[0].lastState.terminated.exitCode).toBe(1);
    expect((await kubectl(['get', 'pod', 'flappy', '--no-headers'])).stdout).toMatch(/CrashLoopBackOff|Error|Running/);
    expect((await kubectl(['logs', 'done'])).stdout).toBe('line one\nline two\n');
    expect((await kubectl(['logs', 'done', '--tail=1'])).stdout).toBe('line two\n');
    expect((await kubectl(['logs', 'done', '--timestamps'])).stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+Z line one$/m);
    expect((await kubectl(['logs', 'flappy', '--previous'])).stdout).toBe('start\n');
    await kubectl(['delete', 'pod', 'done', 'broken', 'flappy']);
  });

  it('a container that writes a burst and exits at once: its whole log is there as soon as the pod is Succeeded', async () => {
    const N = 1500;
    const names = ['burst-1', 'burst-2', 'burst-3', 'burst-4'];
    const script = `i=0; while [ $i -lt ${N} ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; echo last`;
    const pod = (name: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: Never
  containers: [{name: main, image: debian:12, command: [sh, -c, '${script}']}]
`;
    await kubectl(['apply', '-f', '-'], { input: names.map(pod).join('---\n') });
    for (const name of names) {
      // Read the log the moment the phase is terminal, as a client waiting for completion does.
      const log = await until(`${name} Succeeded, then its log`, async () => {
        const st = JSON.parse((await kubectl(['get', 'pod', name, '-o', 'json'])).stdout).status;
        return st.phase === 'Succeeded' ? (await kubectl(['logs', name])).stdout : undefined;
      });
      const lines = log.split('\n').filter((l: string) => l !== '');
      expect(lines.filter((l: string) => l.startsWith('out ')), name).toHaveLength(N);
      expect(lines.filter((l: string) => l.startsWith('err ')), name).toHaveLength(N);
      expect(lines, name).toContain('last');
    }
    await kubectl(['delete', 'pod', ...names]);
  });
});
