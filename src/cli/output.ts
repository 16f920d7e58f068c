import { GatehouseError } from "../errors.ts";

/**
 * Where a command's words go. With --json, stdout carries exactly one JSON document and everything
 * meant for people goes to stderr; without it, results go to stdout.
 */
export interface Output {
  json: boolean;
  /** Progress and context for people (stderr in --json mode). */
  log(line: string): void;
  /** The command's human-readable result (suppressed in --json mode). */
  print(text: string): void;
  /** The command's machine-readable result (only in --json mode). */
  result(value: unknown): void;
}

export function consoleOutput(json: boolean, write: { out: (s: string) => void; err: (s: string) => void } = stdio()): Output {
  return {
    json,
    log: (line) => (json ? write.err(line + "\n") : write.out(line + "\n")),
    print: (text) => {
      if (!json) write.out(text.endsWith("\n") ? text : text + "\n");
    },
    result: (value) => {
      if (json) write.out(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
    },
  };
}

function stdio() {
  return { out: (s: string) => void process.stdout.write(s), err: (s: string) => void process.stderr.write(s) };
}

/**
 * A command whose JSON result already went out (ok: false) ends with a finding: the error's line on
 * stderr and its exit code, without a second JSON document.
 */
export function finding(e: GatehouseError, writeErr: (s: string) => void = (s) => void process.stderr.write(s)): number {
  writeErr(`error ${e.code}: ${e.message}\n`);
  return e.exitCode;
}

/** Exit code and words for a failure; unexpected errors are exit 1 with their message, never a key or a stack unless asked. */
export function reportError(e: unknown, out: Output, writeErr: (s: string) => void = (s) => void process.stderr.write(s)): number {
  if (e instanceof GatehouseError) {
    if (out.json) out.result({ ok: false, error: { code: e.code, message: e.message, details: e.details, docs: e.docsPath } });
    writeErr(`error ${e.code}: ${e.message}\n  ${e.explanation}\n`);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  if (out.json) out.result({ ok: false, error: { code: "GH000", message } });
  writeErr(`error: ${message}\n`);
  if (process.env.GATEHOUSE_DEBUG && e instanceof Error) writeErr(`${e.stack}\n`);
  return 1;
}
