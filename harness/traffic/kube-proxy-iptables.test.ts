import { describe, expect, it } from 'vitest';
import { chainName, kubeProxyRules, servicePortKey } from './kube-proxy-iptables.js';

describe('kube-proxy iptables rules', () => {
  it('writes kube-proxy\'s chains: one KUBE-SERVICES rule per port, random probabilities, DNAT per endpoint', () => {
    const text = kubeProxyRules([
      { namespace: 'x', name: 'web', portName: 'http', protocol: 'TCP', clusterIP: '198.18.128.1', port: 80, endpoints: [{ ip: '198.19.1.2', port: 8080 }, { ip: '198.19.2.2', port: 8080 }, { ip: '198.19.3.2', port: 8080 }] },
    ]);
    const svc = chainName('KUBE-SVC-', 'x/web:http', 'tcp');
    expect(svc).toMatch(/^KUBE-SVC-[A-Z2-7]{16}$/);
    expect(text.startsWith('*nat\n')).toBe(true);
    expect(text.trimEnd().endsWith('COMMIT')).toBe(true);
    expect(text).toContain(`-A KUBE-SERVICES -d 198.18.128.1/32 -p tcp -m comment --comment "x/web:http cluster IP" -m tcp --dport 80 -j ${svc}`);
    const picks = text.split('\n').filter((l) => l.startsWith(`-A ${svc}`));
    expect(picks).toHaveLength(3);
    expect(picks[0]).toContain('--probability 0.33333333333');
    expect(picks[1]).toContain('--probability 0.50000000000');
    expect(picks[2]).not.toContain('statistic');
    expect(text).toContain('-j DNAT --to-destination 198.19.3.2:8080');
  });

  it('rejects connections to a service without endpoints, and names chains stably', () => {
    const text = kubeProxyRules([{ namespace: 'x', name: 'none', portName: '', protocol: 'UDP', clusterIP: '198.18.128.9', port: 53, endpoints: [] }]);
    expect(text).toContain('-A KUBE-SERVICES -d 198.18.128.9/32 -p udp -m comment --comment "x/none has no endpoints" -m udp --dport 53 -j REJECT');
    expect(chainName('KUBE-SEP-', 'a', 'tcp')).toBe(chainName('KUBE-SEP-', 'a', 'tcp'));
    expect(chainName('KUBE-SEP-', 'a', 'tcp')).not.toBe(chainName('KUBE-SEP-', 'a', 'udp'));
  });
  it('leaves out the chains of service ports already loaded, and still rewrites KUBE-SERVICES whole', () => {
    const port = (name: string, ip: string) => ({ namespace: 'x', name, portName: 'http', protocol: 'TCP' as const, clusterIP: ip, port: 80, endpoints: [{ ip: '198.19.1.2', port: 8080 }] });
    const ports = [port('old', '198.18.128.1'), port('new', '198.18.128.2')];
    const text = kubeProxyRules(ports, new Set([servicePortKey(ports[0]!)]));
    const oldSvc = chainName('KUBE-SVC-', 'x/old:http', 'tcp');
    const newSvc = chainName('KUBE-SVC-', 'x/new:http', 'tcp');
    expect(text).toContain(':KUBE-SERVICES - [0:0]');
    expect(text).toContain(`-A KUBE-SERVICES -d 198.18.128.1/32 -p tcp -m comment --comment "x/old:http cluster IP" -m tcp --dport 80 -j ${oldSvc}`);
    expect(text).not.toContain(`:${oldSvc}`); // declaring it would flush it
    expect(text).not.toContain(`-A ${oldSvc}`);
    expect(text).toContain(`:${newSvc} - [0:0]`);
    expect(text).toContain(`-A ${newSvc} -m comment --comment "x/new:http -> 198.19.1.2:8080" -j KUBE-SEP-`);
    expect(kubeProxyRules(ports)).toContain(`:${oldSvc} - [0:0]`);
  });
});
