// Writing a run's reports to a directory: result.json (the source of truth), report.md, junit.xml.
// Each file is written to a temporary name and renamed, so a reader never sees half a report.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from './model.js';
import { renderJunit } from './junit.js';
import { renderRunHtml } from './run-html.js';
import { renderMarkdown } from './markdown.js';

export interface WrittenReports {
  json: string;
  markdown: string;
  junit: string;
  html: string;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Synchronous on purpose: it also runs from a signal handler, where the process is about to exit. */
export function writeReports(result: RunResult, dir: string): WrittenReports {
  mkdirSync(dir, { recursive: true });
  const files = { json: join(dir, 'result.json'), markdown: join(dir, 'report.md'), junit: join(dir, 'junit.xml'), html: join(dir, 'report.html') };
  writeAtomic(files.json, `${JSON.stringify(result, null, 2)}\n`);
  writeAtomic(files.markdown, renderMarkdown(result));
  writeAtomic(files.junit, renderJunit(result));
  writeAtomic(files.html, renderRunHtml(result));
  return files;
}
