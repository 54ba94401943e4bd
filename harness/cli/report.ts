// `cnilab report compare BASE.json HEAD.json [--threshold 5%] [--threshold-metric M=P%]... [--junit FILE]`
// Exit 0: no metric regressed beyond its threshold. 1: at least one did, a metric is missing from HEAD,
// a sample failed, or the runs' parameters or machines differ (all named). 2: bad input.
import { writeFileSync } from 'node:fs';
import { InvalidInputError } from '../errors.js';
import { comparePassed, comparePerf, loadPerfResult, parseOverride, parsePercent, renderCompareJunit, renderCompareTable } from '../../reports/compare.js';
import { parseFlags, reportError } from './common.js';

const USAGE = `usage: cnilab report compare BASE.json HEAD.json [--threshold 5%] [--threshold-metric [CONFIG:]TEST.PATH.QUANTITY=PCT]... [--junit FILE]
  metrics look like tcp-1.other.throughput, rr.same.p99, crr.other.rate; a segment may be * and "tcp" matches tcp-1 and tcp-4
`;

export async function report(args: string[]): Promise<number> {
  let verbose = false;
  try {
    const { values, positionals } = parseFlags(args, {
      threshold: { type: 'string' },
      'threshold-metric': { type: 'string', multiple: true },
      junit: { type: 'string' },
    });
    verbose = !!values.verbose;
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const [sub, basePath, headPath, ...extra] = positionals;
    if (sub !== 'compare') throw new InvalidInputError('report', `expected the subcommand "compare", got ${sub === undefined ? 'nothing' : `"${sub}"`}\n${USAGE}`);
    if (!basePath || !headPath || extra.length) throw new InvalidInputError('report compare', `expected exactly two result files (BASE.json HEAD.json)\n${USAGE}`);
    const threshold = parsePercent('--threshold', values.threshold ?? '5%');
    const overrides = ((values['threshold-metric'] as string[] | undefined) ?? []).map(parseOverride);
    const base = loadPerfResult(basePath);
    const head = loadPerfResult(headPath);
    const result = comparePerf(base, head, { threshold, overrides });
    if (!result.rows.length) throw new InvalidInputError(`${basePath}, ${headPath}`, 'no metric in common to compare');
    process.stdout.write(renderCompareTable(result));
    if (values.junit) writeFileSync(values.junit as string, renderCompareJunit(result));
    return comparePassed(result) ? 0 : 1;
  } catch (err) {
    return reportError(err, verbose);
  }
}
