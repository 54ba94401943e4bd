// Re-applying an object that exists: left alone when the manifest asks for nothing new (server
// defaults and status do not count), replaced otherwise.
import { describe, expect, it } from 'vitest';
import { coveredBy } from './provider.js';

describe('coveredBy', () => {
  const stored = { metadata: { name: 'a', namespace: 'x', uid: 'u', labels: { app: 'a' } }, spec: { nodeName: 'n1', restartPolicy: 'Always', containers: [{ name: 'c', args: ['netexec'], ports: [{ containerPort: 80, protocol: 'TCP' }] }] }, status: { phase: 'Running' } };
  it('ignores what the server added, in any key order', () => {
    expect(coveredBy({ spec: { containers: [{ ports: [{ containerPort: 80 }], args: ['netexec'], name: 'c' }], nodeName: 'n1' }, metadata: { labels: { app: 'a' }, name: 'a', namespace: 'x' } }, stored)).toBe(true);
  });
  it('sees a changed value, an added element or a field the stored object lacks', () => {
    expect(coveredBy({ spec: { nodeName: 'n2' } }, stored)).toBe(false);
    expect(coveredBy({ spec: { containers: [{ name: 'c' }, { name: 'd' }] } }, stored)).toBe(false);
    expect(coveredBy({ spec: { hostNetwork: true } }, stored)).toBe(false);
    expect(coveredBy({ metadata: { labels: { app: 'b' } } }, stored)).toBe(false);
  });
});
