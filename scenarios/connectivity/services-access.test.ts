// The services scenario through a provider: the exec'd command, its output read strictly (a missing or
// garbled line is the tool's failure, never an answer), and what needs the embedded host said so.
import { describe, expect, it } from 'vitest';
import { hostOnly, onEmbeddedHost, parseSvcAnswers, svcAskArgv } from './services-access.js';
import type { Provider } from '../../harness/providers/common/provider.js';

const kube = { kind: 'kubeconfig' } as Provider;

describe('services through a provider', () => {
  it('asks with agnhost cnilab-svc-ask in the client pod', () => {
    expect(svcAskArgv({ protocol: 'tcp', host: '198.18.128.10', port: 80, paths: ['/hostname', '/clientip'], count: 6, timeoutMs: 1000 })).toEqual(['agnhost', 'cnilab-svc-ask', '--count=6', '--timeout=1000ms', 'tcp:198.18.128.10:80/hostname,/clientip']);
    expect(svcAskArgv({ protocol: 'udp', host: '198.18.128.10', port: 53, count: 4, timeoutMs: 2000 }).at(-1)).toBe('udp:198.18.128.10:53');
  });
  it('reads exactly count answers, else says why', () => {
    const line = JSON.stringify({ ok: true, answer: 'web-node1', peer: '198.18.128.10:80', ms: 2 });
    expect(parseSvcAnswers(`${line}\n${line}\n`, 2)).toHaveLength(2);
    expect(parseSvcAnswers(`${line}\n`, 2)).toMatch(/expected 2 answer lines, got 1/);
    expect(parseSvcAnswers('TIMEOUT\n', 1)).toMatch(/not JSON/);
    expect(parseSvcAnswers('{"answer":"x"}\n', 1)).toMatch(/not an answer/);
  });
  it('names what only the embedded host gives', () => {
    expect(onEmbeddedHost({})).toBe(true);
    expect(hostOnly({}, 'x')).toBeUndefined();
    expect(onEmbeddedHost({ provider: kube })).toBe(false);
    expect(hostOnly({ provider: kube }, 'an outside host')).toBe('needs an outside host, which the kubeconfig provider does not reach');
  });
});
