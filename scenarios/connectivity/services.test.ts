// The services checks' verdicts are earned: a wrong peer, a non-backend, a failure or no answer at all
// fail; failures carry their failure mode into the observation and the evidence.
import { describe, expect, it } from 'vitest';
import { answersEvidence, judge, NO_BACKEND_FAILURES, type Asked } from './services.js';
import { serviceFailureMode, type ServiceAnswer } from '../../harness/traffic/service-probe.js';

const q: Asked = { netns: 'cnilab-t-node1-p1', protocol: 'tcp', host: '198.18.128.10', port: 80, path: '/hostname' };
const PEER = '198.18.128.10:80';
const ok = (answer: string, peer = PEER): ServiceAnswer => ({ ok: true, answer, peer, ms: 1 });
const bad = (error: string): ServiceAnswer => ({ ok: false, error, failure: serviceFailureMode('tcp', error), ms: 1000 });

describe('service checks', () => {
  it('pass only when every answer comes from a backend with the service as the peer, with evidence', () => {
    const v = judge(q, [ok('web-a'), ok('web-b')], ['web-a', 'web-b'], PEER, 'connections');
    expect(v.passed).toBe(true);
    expect(v.evidence).toEqual([{ kind: 'probe', command: `2× ip netns exec ${q.netns} curl -s --http1.0 http://198.18.128.10:80/hostname`, observed: 'answers {"web-a":1,"web-b":1}; peers ["198.18.128.10:80"]' }]);
  });
  it('fail on the backend as the peer (reverse translation skipped), a stranger answering, a failure or nothing', () => {
    expect(judge(q, [ok('web-a', '198.19.1.5:8080')], ['web-a'], PEER, 'c').passed).toBe(false);
    expect(judge(q, [ok('intruder')], ['web-a'], PEER, 'c').passed).toBe(false);
    expect(judge(q, [], ['web-a'], PEER, 'c').passed).toBe(false);
    const v = judge(q, [ok('web-a'), bad('ECONNREFUSED'), bad('TIMEOUT')], ['web-a'], PEER, 'c');
    expect(v.passed).toBe(false);
    expect(v.observed).toContain('failure modes {"RST":1,"TIMEOUT":1}');
    expect(v.evidence![0]!.observed).toContain('failures {"RST":1,"TIMEOUT":1}');
    expect(v.detail).toMatch(/RST \(ECONNREFUSED\)/);
  });
  it('name failure modes from errnos; only an answer at once counts for a service without backends', () => {
    expect(serviceFailureMode('udp', 'ECONNREFUSED')).toBe('ICMP_PORT_UNREACHABLE');
    expect(serviceFailureMode('tcp', 'EHOSTUNREACH')).toBe('EHOSTUNREACH');
    expect(serviceFailureMode('tcp', 'bad HTTP answer: ""')).toBe('HTTP_ERROR');
    expect(serviceFailureMode('tcp', 'EMFILE')).toBe('OTHER');
    expect(NO_BACKEND_FAILURES).not.toContain('TIMEOUT');
    expect(NO_BACKEND_FAILURES).not.toContain('OTHER');
    expect(answersEvidence({ ...q, protocol: 'udp', port: 53 }, [bad('TIMEOUT')]).command).toContain('nc -u');
  });
});
