// cnilab kubeconfig: the path for a running cluster, a clear error (exit 1) for one that is not,
// and bad names rejected as input (exit 2). Runs the built CLI; needs no cluster.
import { describe, expect, it } from 'vitest';
import { cnilab } from '../testing/cli.js';

describe('cnilab kubeconfig', () => {
  it('says the cluster is not running, naming the command that starts it', async () => {
    const r = await cnilab(['kubeconfig', '--name', 'kapi-absent']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cluster "kapi-absent" has no kubeconfig (/run/cnilab/kapi-absent/kube/kubeconfig)');
    expect(r.stderr).toContain('cnilab up --name kapi-absent');
    expect(r.stdout).toBe('');
  });
  it('rejects a name that is not a DNS label (exit 2)', async () => {
    const r = await cnilab(['kubeconfig', '--name', '../etc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--name');
  });
});
