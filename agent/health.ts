// The agent's health as a set of problems, one per source, each set and cleared only by its own
// source: a route sync that failed stays reported until routes sync again, whatever watch events
// arrive meanwhile (one shared "problem" field used to be cleared by any successful watch event).
export type ProblemSource = 'state' | 'watch' | 'ipcache' | 'routes' | 'bgp';

/** Reported in this order: the most fundamental first. */
const ORDER: ProblemSource[] = ['state', 'watch', 'ipcache', 'routes', 'bgp'];

export class HealthProblems {
  private problems = new Map<ProblemSource, string>();

  /** Record a problem; returns true when it is new or different (worth a log line). */
  set(source: ProblemSource, message: string): boolean {
    const changed = this.problems.get(source) !== message;
    this.problems.set(source, message);
    return changed;
  }

  clear(source: ProblemSource): void {
    this.problems.delete(source);
  }

  get(source: ProblemSource): string | undefined {
    return this.problems.get(source);
  }

  /** Every current problem, "source: message", most fundamental first. */
  list(): string[] {
    return ORDER.filter((s) => this.problems.has(s)).map((s) => `${s}: ${this.problems.get(s)}`);
  }
}
