// The visibility suite: every probe yields exactly the flows it should.
import type { Suite } from '../framework/model.js';
import { visibilityScenario } from './visibility.js';

export const visibilitySuite: Suite = { name: 'visibility', scenarios: [visibilityScenario] };
