// Traffic from a pod is hostile input: nothing a pod sends may crash the control plane, and a pod's
// agnhost servers answer a bad request with an error and keep serving. One reference-bridge cluster
// (no BPF needed: the pod servers are the subject), hostile requests sent from a client pod's netns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnilab } from '../../testing/cli.js';
import { bodyOf, rawGet, rawTcp, statusOf } from '../../testing/raw-socket.js';
import { netnsNames } from '../../cluster/names.js';
import { sweep } from './sweep.js';

const C = 'hard-hp';
const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.47';
const MANIFEST = `
apiVersion: v1
kind: Pod
metadata: {name: nx}
spec:
  containers:
  - {name: c, image: "${AGNHOST}", args: [netexec, --http-port=8080, --udp-port=8081]}
---
apiVersion: v1
kind: Pod
metadata: {name: sh}
spec:
  containers:
  - {name: c, image: "${AGNHOST}", args: [serve-hostname, --port=9376]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - {name: c, image: "${AGNHOST}", args: [pause]}
`;

const clientNs = netnsNames.pod(C, 'default', 'client');
let ips: Record<string, string> = {};

async function hostnameOf(ip: string, port: number): Promise<string> {
  const r = await rawTcp(ip, port, rawGet('/hostname'), { netns: clientNs });
  return statusOf(r.data) === 200 ? bodyOf(r.data) : `no answer (${JSON.stringify(r)})`;
}

describe('hostile pod traffic', () => {
  beforeAll(async () => {
    await sweep(C);
    const up = await cnilab(['up', '--name', C, '--nodes', '1', '--cni', 'reference-bridge', '-q']);
    expect(up.code, up.stderr).toBe(0);
    const applied = await cnilab(['apply', '--name', C, '-f', '-', '--wait'], { input: MANIFEST });
    expect(applied.code, applied.stderr).toBe(0);
    const pods = JSON.parse((await cnilab(['get', 'pods', '--name', C, '-o', 'json'])).stdout).items as Array<{ metadata: { name: string }; status: { podIP: string } }>;
    ips = Object.fromEntries(pods.map((p) => [p.metadata.name, p.status.podIP]));
  });
  afterAll(async () => {
    await cnilab(['down', '--name', C]);
    await sweep(C);
  });

  it('bad HTTP requests get an error or a closed connection; the servers and the control plane stay up', async () => {
    const hostile = [
      rawGet('/echo?code=0'),
      rawGet('/echo?code=1000'),
      rawGet('/echo?code=-1'),
      rawGet('/echo?code=99'),
      rawGet('/echo?code=99999999999999999999999'),
      rawGet('//'),
      rawGet('//evil/x'),
      rawGet('/%zz'),
      rawGet('*'),
      rawGet('http://x/hostname'),
      rawGet('/exit/../echo?code=0'),
      rawGet('/header?key=__proto__'),
      rawGet('/dial?host=198.18.0.1&port=99999&request=x'),
      rawGet('/dial?host=&port=&request='),
      rawGet('/dial?host=a%00b&port=80&request=%0d%0a'),
      rawGet('/dial?host=127.0.0.1&port=1&request=x&protocol=udp&tries=-5'),
      'GARBAGE\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      '\x00\xff\x16\x03\x01\x02\x00\x01',
    ];
    for (const [port, pod] of [[8080, 'nx'], [9376, 'sh']] as const) {
      for (const payload of hostile) {
        const r = await rawTcp(ips[pod]!, port, payload, { netns: clientNs });
        // An answer, if any, is a well-formed HTTP reply; never a hang.
        if (r.data) expect(statusOf(r.data), `${pod}: ${JSON.stringify(payload)} -> ${r.data.slice(0, 200)}`).toBeDefined();
        expect(r.closed, `${pod}: ${JSON.stringify(payload)} left the connection hanging`).toBe(true);
        expect(await hostnameOf(ips[pod]!, port), `${pod} after ${JSON.stringify(payload)}`).toBe(pod);
      }
    }
    // As upstream agnhost (Go's net/http): an out-of-range status closes the connection without a
    // reply, an unclean path is redirected to its clean form.
    expect((await rawTcp(ips.nx!, 8080, rawGet('/echo?code=0'), { netns: clientNs })).data).toBe('');
    const slash = await rawTcp(ips.nx!, 8080, rawGet('//'), { netns: clientNs });
    expect(statusOf(slash.data)).toBe(301);
    expect(slash.data).toMatch(/\r\nLocation: \/\r\n/i);
    expect(statusOf((await rawTcp(ips.nx!, 8080, rawGet('/echo?code=418&msg=teapot'), { netns: clientNs })).data)).toBe(418);
    const status = await cnilab(['status', '--name', C]);
    expect(status.code, status.stderr).toBe(0);
  });
});
