// The few error classes cnilab uses, each with a stable code and the exit status the CLI gives it.
// "unsupported" is deliberately distinct from "failed": a kernel without Geneve is not a broken datapath.

export type ErrorCode =
  | 'INVALID_INPUT'
  | 'UNSUPPORTED'
  | 'COMMAND_FAILED'
  | 'TIMEOUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'INTERNAL';

export class CnilabError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  /** Extra text the CLI prints under the message (a failing command's output, for instance). */
  readonly detail?: string;
  constructor(code: ErrorCode, message: string, opts: { exitCode?: number; detail?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = opts.exitCode ?? 1;
    this.detail = opts.detail;
  }
}

/** Bad input from a user: a malformed file, an invalid object, a name that would escape a path. Exit 2. */
export class InvalidInputError extends CnilabError {
  /** Where the problem is, e.g. `cluster.yaml: networking.podSubnet`. */
  readonly field: string;
  constructor(field: string, message: string, detail?: string) {
    super('INVALID_INPUT', `${field}: ${message}`, { exitCode: 2, detail });
    this.field = field;
  }
}

/** Several input problems reported at once, so a user fixes a file in one go. Exit 2. */
export class InvalidInputList extends CnilabError {
  readonly problems: InvalidInputError[];
  constructor(problems: InvalidInputError[]) {
    super('INVALID_INPUT', problems.map((p) => p.message).join('\n'), { exitCode: 2 });
    this.problems = problems;
  }
}

/** The machine cannot do this at all: printed as `unsupported: WHAT (needs NEED)`. Exit 3. */
export class UnsupportedError extends CnilabError {
  readonly what: string;
  readonly needs: string;
  constructor(what: string, needs: string) {
    super('UNSUPPORTED', `unsupported: ${what} (needs ${needs})`, { exitCode: 3 });
    this.what = what;
    this.needs = needs;
  }
}

export class NotFoundError extends CnilabError {
  constructor(message: string) {
    super('NOT_FOUND', message, { exitCode: 1 });
  }
}

export class ConflictError extends CnilabError {
  constructor(message: string) {
    super('CONFLICT', message, { exitCode: 1 });
  }
}

/** A wait that ran out: the message says what was waited for and for how long. */
export class WaitTimeoutError extends CnilabError {
  constructor(what: string, timeoutMs: number, detail?: string) {
    super('TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`, { exitCode: 1, detail });
  }
}

/** Rebuild an error that crossed a socket as JSON ({code, message, exitCode, detail}). */
export function errorFromJson(body: { code?: string; message?: string; exitCode?: number; detail?: string }): CnilabError {
  const code = (body.code ?? 'INTERNAL') as ErrorCode;
  return new CnilabError(code, body.message ?? 'unknown error', { exitCode: body.exitCode ?? 1, detail: body.detail });
}

export function errorToJson(err: unknown): { code: ErrorCode; message: string; exitCode: number; detail?: string } {
  if (err instanceof CnilabError) return { code: err.code, message: err.message, exitCode: err.exitCode, detail: err.detail };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message, exitCode: 1 };
}
