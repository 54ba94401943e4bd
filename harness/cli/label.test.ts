import { describe, expect, it } from 'vitest';
import { parseLabelArgs } from './label.js';

describe('cnilab label arguments', () => {
  it('takes kubectl\'s KEY=VALUE and KEY- forms, an empty value included', () => {
    expect(parseLabelArgs(['team=blue', 'old-', 'app.kubernetes.io/name=web', 'empty='])).toEqual({
      set: { team: 'blue', 'app.kubernetes.io/name': 'web', empty: '' },
      remove: ['old'],
    });
  });
  it('rejects what is neither, a key given twice and nothing at all, naming the argument', () => {
    expect(() => parseLabelArgs(['team'])).toThrow(/argument "team": expected KEY=VALUE/);
    expect(() => parseLabelArgs(['=x'])).toThrow(/argument "=x"/);
    expect(() => parseLabelArgs(['-'])).toThrow(/argument "-"/);
    expect(() => parseLabelArgs(['a=1', 'a-'])).toThrow(/label "a": given more than once/);
    expect(() => parseLabelArgs([])).toThrow(/at least one/);
  });
});
