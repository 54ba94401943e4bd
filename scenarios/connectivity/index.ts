// The connectivity suite: reachability first, then what the wire carries.
import type { Suite } from '../framework/model.js';
import { connectivityScenario } from './connectivity.js';
import { wireScenario } from './wire.js';
import { servicesScenario } from './services.js';

export const connectivitySuite: Suite = {
  name: 'connectivity',
  scenarios: [connectivityScenario, wireScenario, servicesScenario],
};
