import { describe, expect, it } from 'vitest';
import { DROP_REASON } from '../datapath/constants.js';
import { DROP_REASON_NAMES, DROP_REASON_TEXT } from './names.js';

describe('drop reason names', () => {
  // A reason the datapath can report but the observer cannot name prints as a bare number in flows,
  // metrics and `observe --verdict` filters: every one needs Hubble's enum name and the monitor's text.
  it('names every drop reason the datapath reports, with the same enum name', () => {
    for (const [name, code] of Object.entries(DROP_REASON)) {
      expect(DROP_REASON_NAMES[code], `${code}`).toBe(name);
      expect(DROP_REASON_TEXT[code], `${code}`).toMatch(/\S/);
    }
  });
});
