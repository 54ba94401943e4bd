import { describe, expect, it } from 'vitest';
import { compileFilter, compileFilters } from './filter.js';
import type { Flow } from './flow.js';
import { matchesLabelSelector, parseLabelSelector } from './label-selector.js';

const flow = (over: Partial<Flow> = {}): Flow => ({
  time: '2024-05-01T10:00:00.000000000Z', uuid: 'u1', verdict: 'FORWARDED',
  IP: { source: '198.19.1.2', destination: '198.19.2.3', ipVersion: 'IPv4' },
  l4: { TCP: { source_port: 40000, destination_port: 80, flags: { SYN: true } } },
  source: { identity: 300, namespace: 'x', pod_name: 'a-1', labels: ['k8s:pod=a', 'k8s:io.kubernetes.pod.namespace=x'] },
  destination: { identity: 301, namespace: 'y', pod_name: 'b', labels: ['k8s:pod=b'] },
  Type: 'L3_L4', node_name: 'node1', event_type: { type: 4 }, traffic_direction: 'INGRESS', is_reply: false, ...over,
});

describe('FlowFilter', () => {
  const m = (ff: object, f = flow()) => compileFilter(ff)(f);

  it('matches every field the way Hubble does', () => {
    expect(m({ source_ip: ['198.19.1.0/24'] })).toBe(true);
    expect(m({ source_ip: ['198.19.2.0/24'] })).toBe(false);
    expect(m({ destination_ip: ['198.19.2.3'] })).toBe(true);
    expect(m({ source_pod: ['x/a'] })).toBe(true); // a prefix of a-1
    expect(m({ source_pod: ['x/'] })).toBe(true); // the whole namespace
    expect(m({ source_pod: ['a'] })).toBe(false); // no namespace means "default"
    expect(m({ destination_pod: ['y/b', 'z/c'] })).toBe(true);
    expect(m({ source_label: ['pod=a'] })).toBe(true);
    expect(m({ source_label: ['k8s:pod in (a, c)'] })).toBe(true);
    expect(m({ source_label: ['reserved:pod=a'] })).toBe(false);
    expect(m({ destination_label: ['pod!=b'] })).toBe(false);
    expect(m({ source_identity: [300] })).toBe(true);
    expect(m({ destination_identity: [300] })).toBe(false);
    expect(m({ traffic_direction: ['EGRESS'] })).toBe(false);
    expect(m({ verdict: ['FORWARDED', 'DROPPED'] })).toBe(true);
    expect(m({ drop_reason_desc: ['POLICY_DENIED'] }, flow({ verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED' }))).toBe(true);
    expect(m({ event_type: [{ type: 4 }] })).toBe(true);
    expect(m({ event_type: [{ type: 4, match_sub_type: true, sub_type: 0 }] })).toBe(true); // to-endpoint
    expect(m({ event_type: [{ type: 4, match_sub_type: true, sub_type: 5 }] })).toBe(false);
    expect(m({ protocol: ['TCP'] })).toBe(true);
    expect(m({ protocol: ['udp', 'icmp'] })).toBe(false);
    expect(m({ source_port: ['40000'] })).toBe(true);
    expect(m({ destination_port: ['81'] })).toBe(false);
    expect(m({ reply: [false] })).toBe(true);
    expect(m({ reply: [true] }, flow({ is_reply: undefined }))).toBe(false);
    expect(m({ tcp_flags: [{ SYN: true }] })).toBe(true);
    expect(m({ tcp_flags: [{ SYN: true, ACK: true }] })).toBe(false);
    expect(m({ node_name: ['node*'] })).toBe(true);
    expect(m({ node_name: ['cluster/node2'] })).toBe(false);
    expect(m({ uuid: ['u1'] })).toBe(true);
  });

  it('matches L7 fields', () => {
    const http = flow({ Type: 'L7', event_type: { type: 129 }, l7: { type: 'RESPONSE', http: { code: 404, method: 'GET', url: 'http://b/echo?x=1', protocol: 'HTTP/1.1' } } });
    expect(m({ http_status_code: ['4+'] }, http)).toBe(true);
    expect(m({ http_status_code: ['40+'] }, http)).toBe(true);
    expect(m({ http_status_code: ['200', '5+'] }, http)).toBe(false);
    expect(m({ http_method: ['get'] }, http)).toBe(true);
    expect(m({ http_path: ['^/echo$'] }, http)).toBe(true);
    expect(m({ protocol: ['http'] }, http)).toBe(true);
    const dns = flow({ Type: 'L7', l7: { type: 'REQUEST', dns: { query: 'svc.cluster.local.', qtypes: ['A'] } } });
    expect(m({ dns_query: ['cluster\\.local\\.$'] }, dns)).toBe(true);
    expect(m({ dns_query: ['example'] }, dns)).toBe(false);
  });

  it('ANDs the fields of one filter, ORs the filters of a list, subtracts the blacklist', () => {
    expect(m({ source_pod: ['x/a'], destination_port: ['81'] })).toBe(false);
    const p = compileFilters([{ destination_port: ['81'] }, { source_pod: ['x/a'] }], [{ verdict: ['FORWARDED'], destination_pod: ['y/'] }]);
    expect(p(flow())).toBe(false);
    expect(p(flow({ destination: { identity: 1 } }))).toBe(true);
    expect(compileFilters([], [])(flow())).toBe(true);
    expect(compileFilters([], [{ verdict: ['FORWARDED'] }])(flow())).toBe(false);
  });

  it('rejects bad filter values naming the field', () => {
    expect(() => compileFilter({ source_ip: ['1.2.3.4/40'] })).toThrow(/source_ip/);
    expect(() => compileFilter({ verdict: ['ALLOWED' as never] })).toThrow(/verdict: unknown value "ALLOWED"/);
    expect(() => compileFilter({ traffic_direction: ['UP' as never] })).toThrow(/traffic_direction/);
    expect(() => compileFilter({ destination_port: ['http'] })).toThrow(/destination_port/);
    expect(() => compileFilter({ protocol: ['quic'] })).toThrow(/protocol: unknown protocol/);
    expect(() => compileFilter({ http_status_code: ['4xx'] })).toThrow(/http_status_code/);
    expect(() => compileFilter({ dns_query: ['('] })).toThrow(/dns_query/);
    expect(() => compileFilter({ source_label: ['bad key!'] })).toThrow(/source_label/);
    expect(() => compileFilter({ source_pod: [''] })).toThrow(/source_pod/);
  });
});

describe('label selectors', () => {
  it('parses the Kubernetes selector syntax', () => {
    expect(parseLabelSelector('app=a, tier != db, env in (x, y), !legacy, k8s:team')).toEqual([
      { key: 'app', op: 'in', values: ['a'] },
      { key: 'tier', op: 'notin', values: ['db'] },
      { key: 'env', op: 'in', values: ['x', 'y'] },
      { key: 'legacy', op: 'not-exists', values: [] },
      { source: 'k8s', key: 'team', op: 'exists', values: [] },
    ]);
    expect(matchesLabelSelector(parseLabelSelector('!legacy'), ['k8s:app=a'])).toBe(true);
    expect(matchesLabelSelector(parseLabelSelector('reserved:world'), ['reserved:world'])).toBe(true);
    expect(matchesLabelSelector(parseLabelSelector('any:app=a'), ['k8s:app=a'])).toBe(true);
  });
});
