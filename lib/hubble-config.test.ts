import { describe, expect, it } from 'vitest';
import { DEFAULT_L7_VISIBILITY, hubbleConfigToRaw, METRIC_HANDLERS, parseMetricSpec, reportsFromPoints, resolveHubbleConfig } from './hubble-config.js';

describe('hubble config', () => {
  it('defaults to every handler, a 4096-flow ring and DNS/HTTP visibility on the usual ports', () => {
    const c = resolveHubbleConfig(undefined);
    expect(c.enabled).toBe(true);
    expect(c.eventBufferCapacity).toBe(4096);
    expect(c.metrics.map((m) => m.name)).toEqual([...METRIC_HANDLERS]);
    expect(c.l7Visibility).toEqual(DEFAULT_L7_VISIBILITY);
  });

  it("parses Hubble's metric option syntax", () => {
    expect(parseMetricSpec('drop:sourceContext=pod|namespace;destinationContext=ip;labelsContext=traffic_direction,source_namespace')).toEqual({
      name: 'drop', flags: [], context: { source: ['pod', 'namespace'], destination: ['ip'], labels: ['source_namespace', 'traffic_direction'] },
    });
    expect(parseMetricSpec('dns:query;ignoreAAAA').flags).toEqual(['query', 'ignoreaaaa']);
  });

  it('writes a resolved config back as a mapping that resolves to the same config (the agent config file)', () => {
    const c = resolveHubbleConfig({ eventBufferCapacity: 128, metrics: ['drop:sourceContext=pod|namespace;labelsContext=traffic_direction', 'dns:query;ignoreAAAA', 'flow'], l7Visibility: [{ port: 53, protocol: 'UDP', parser: 'dns' }] });
    expect(resolveHubbleConfig(hubbleConfigToRaw(c))).toEqual(c);
    expect(resolveHubbleConfig(hubbleConfigToRaw(resolveHubbleConfig(undefined)))).toEqual(resolveHubbleConfig(undefined));
  });

  it('monitorAggregation: Cilium\'s levels and spellings, medium by default', () => {
    expect(resolveHubbleConfig({}).monitorAggregation).toBe('medium');
    expect(resolveHubbleConfig({ monitorAggregation: 'Maximum' }).monitorAggregation).toBe('maximum');
    expect(resolveHubbleConfig({ monitorAggregation: 'max' }).monitorAggregation).toBe('maximum');
    expect(resolveHubbleConfig({ monitorAggregation: 'lowest' }).monitorAggregation).toBe('low');
    expect(resolveHubbleConfig({ monitorAggregation: 'disabled' }).monitorAggregation).toBe('none');
    expect(() => resolveHubbleConfig({ monitorAggregation: 'high' })).toThrow(/hubble.monitorAggregation: expected one of none, low, medium, maximum/);
    expect(() => resolveHubbleConfig({ monitorAggregation: 3 })).toThrow(/hubble.monitorAggregation/);
    expect(hubbleConfigToRaw(resolveHubbleConfig({ monitorAggregation: 'low' })).monitorAggregation).toBe('low');
    expect([reportsFromPoints('none'), reportsFromPoints('low'), reportsFromPoints('medium'), reportsFromPoints('maximum')]).toEqual([true, false, true, false]);
  });

  it('names the field of every mistake', () => {
    expect(() => resolveHubbleConfig({ metrics: ['drops'] })).toThrow(/hubble.metrics\[0\]: unknown metric "drops"/);
    expect(() => resolveHubbleConfig({ metrics: ['flow:labelsContext=pod'] })).toThrow(/invalid labelsContext value "pod"/);
    expect(() => resolveHubbleConfig({ metrics: ['flow:sourceContext=workload'] })).toThrow(/unknown context "workload"/);
    expect(() => resolveHubbleConfig({ metrics: ['flow', 'flow'] })).toThrow(/listed twice/);
    expect(() => resolveHubbleConfig({ eventBufferCapacity: 0 })).toThrow(/hubble.eventBufferCapacity/);
    expect(() => resolveHubbleConfig({ l7Visibility: [{ port: 70000, parser: 'http' }] })).toThrow(/l7Visibility\[0\].port/);
    expect(() => resolveHubbleConfig({ l7Visibility: [{ port: 53, protocol: 'UDP', parser: 'http' }] })).toThrow(/HTTP is parsed on TCP only/);
    expect(() => resolveHubbleConfig({ enabled: 'yes' })).toThrow(/hubble.enabled/);
    expect(() => resolveHubbleConfig({ relay: true })).toThrow(/hubble.relay: unknown field/);
  });
});
