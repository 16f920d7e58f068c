import * as core from "@actions/core";

/**
 * The one place the GitHub Actions glue talks to @actions/core. Inside Actions (GITHUB_ACTIONS=true)
 * inputs come from core.getInput (INPUT_<NAME> set by the step's `env:`), outputs go to $GITHUB_OUTPUT,
 * Markdown to the job summary, findings become annotations on a file and line, and failures go through
 * core.setFailed. Outside Actions the same scripts take `--name value` flags and print everything to the
 * terminal, so a developer runs exactly what CI runs.
 */

export type AnnotationLevel = "error" | "warning" | "notice";

export interface Annotation {
  level: AnnotationLevel;
  message: string;
  title?: string;
  /** Repository-relative path, as GitHub shows it on the PR's "Files changed" tab. */
  file?: string;
  line?: number;
  endLine?: number;
}

export interface ActionsIO {
  readonly inActions: boolean;
  /** A `--name value` flag, else the step input INPUT_<NAME>, else `fallback`; `required` makes "" an error. */
  input(name: string, opts?: { required?: boolean; fallback?: string }): string;
  output(name: string, value: string | number | boolean): void;
  /** Masks a value in every later log line (no-op for empty values and outside Actions). */
  secret(value: string | undefined): void;
  log(line: string): void;
  annotate(a: Annotation): void;
  /** Appends Markdown to the job summary (terminal: prints it). */
  summary(markdown: string): Promise<void>;
  /** Marks the step failed with `message`; the process exit code becomes `exitCode` (default 1). */
  fail(message: string, exitCode?: number): void;
}

export interface Terminal {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Terminal = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) };

/** `--name value` and `--name=value` pairs of argv (anything else is ignored). */
export function parseFlags(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) flags.set(arg.slice(2), argv[++i]!);
    else flags.set(arg.slice(2), "true");
  }
  return flags;
}

/** `file:line: level: [title] message` — the form compilers use, so terminals and editors link it. */
export function annotationLine(a: Annotation): string {
  const where = a.file ? `${a.file}${a.line ? `:${a.line}` : ""}: ` : "";
  return `${where}${a.level}: ${a.title ? `[${a.title}] ` : ""}${a.message}`;
}

export function actionsIO(opts: { env?: NodeJS.ProcessEnv; argv?: string[]; terminal?: Terminal } = {}): ActionsIO {
  const env = opts.env ?? process.env;
  const flags = parseFlags(opts.argv ?? process.argv.slice(2));
  const term = opts.terminal ?? stdio;
  const inActions = env.GITHUB_ACTIONS === "true";

  const input: ActionsIO["input"] = (name, o = {}) => {
    // core.getInput reads process.env; a step's inputs are INPUT_<NAME> (spaces to _, upper case).
    const fromEnv = env === process.env ? core.getInput(name) : (env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
    const value = flags.get(name) ?? (fromEnv || o.fallback || "");
    if (o.required && !value) {
      throw new InputError(inActions ? `input '${name}' is required (set INPUT_${name.replace(/ /g, "_").toUpperCase()} in the step's env)` : `--${name} is required`);
    }
    return value;
  };

  if (!inActions) {
    return {
      inActions,
      input,
      output: (name, value) => term.err(`output ${name}=${String(value)}\n`),
      secret: () => {},
      log: (line) => term.err(line + "\n"),
      annotate: (a) => term.err(annotationLine(a) + "\n"),
      summary: async (markdown) => term.out(markdown.endsWith("\n") ? markdown : markdown + "\n"),
      fail: (message, exitCode = 1) => {
        term.err(`error: ${message}\n`);
        process.exitCode = exitCode;
      },
    };
  }

  return {
    inActions,
    input,
    output: (name, value) => core.setOutput(name, value),
    secret: (value) => {
      if (value) core.setSecret(value);
    },
    log: (line) => core.info(line),
    annotate: (a) => {
      const props: core.AnnotationProperties = { title: a.title, file: a.file, startLine: a.line, endLine: a.endLine ?? a.line };
      if (a.level === "error") core.error(a.message, props);
      else if (a.level === "warning") core.warning(a.message, props);
      else core.notice(a.message, props);
    },
    summary: async (markdown) => {
      if (!env.GITHUB_STEP_SUMMARY) {
        core.info(markdown);
        return;
      }
      await core.summary.addRaw(markdown, true).write();
    },
    fail: (message, exitCode = 1) => {
      core.setFailed(message);
      process.exitCode = exitCode;
    },
  };
}

/** A missing or malformed input: exit 2 like the CLI's usage errors. */
export class InputError extends Error {
  readonly exitCode = 2;
}
