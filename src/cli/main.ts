import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { isAddress } from "ethers";
import { GatehouseError } from "../errors.ts";
import { consoleOutput, reportError, type Output } from "./output.ts";

/**
 * `gatehouse <command>`: parses the command line and hands over to one file per command under
 * src/cli/commands/. Exit codes: 0 success, 1 a finding/violation/refusal, 2 bad usage/config/input.
 */
export interface CommandContext {
  args: string[];
  flags: Record<string, string | boolean | undefined>;
  network: string;
  root: string;
  out: Output;
}

/** One flag in a command's --help: its value placeholder, what it does, and its default. */
export interface FlagDoc {
  value?: string;
  help: string;
  default?: string;
}

export interface Command {
  summary: string;
  usage: string;
  options?: ParseArgsConfig["options"];
  /** --help text of each flag in `options` (a test checks that none is missing). */
  flags?: Record<string, FlagDoc>;
  run(c: CommandContext): Promise<number>;
}

export const COMMANDS: Record<string, () => Promise<Command>> = {
  deploy: async () => (await import("./commands/deploy.ts")).default,
  check: async () => (await import("./commands/check.ts")).default,
  stage: async () => (await import("./commands/stage.ts")).default,
  propose: async () => (await import("./commands/propose.ts")).default,
  sign: async () => (await import("./commands/sign.ts")).default,
  show: async () => (await import("./commands/show.ts")).default,
  execute: async () => (await import("./commands/execute.ts")).default,
  cancel: async () => (await import("./commands/cancel.ts")).default,
  verify: async () => (await import("./commands/verify.ts")).default,
  status: async () => (await import("./commands/status.ts")).default,
  doctor: async () => (await import("./commands/doctor.ts")).default,
  demo: async () => (await import("./commands/demo.ts")).default,
  watch: async () => (await import("./commands/watch.ts")).default,
  review: async () => (await import("./commands/review.ts")).default,
  "tx-service": async () => (await import("./commands/tx-service.ts")).default,
  simulate: async () => (await import("./commands/simulate.ts")).default,
  delegate: async () => (await import("./commands/delegate.ts")).default,
  pause: async () => (await import("./commands/pause.ts")).default,
  incident: async () => (await import("./commands/incident.ts")).default,
  drill: async () => (await import("./commands/drill.ts")).default,
  rollback: async () => (await import("./commands/rollback.ts")).default,
  govern: async () => (await import("./commands/govern.ts")).default,
  init: async () => (await import("./commands/init.ts")).default,
  site: async () => (await import("./commands/site.ts")).default,
};

const COMMON: NonNullable<ParseArgsConfig["options"]> = {
  network: { type: "string" },
  json: { type: "boolean" },
  root: { type: "string" },
  "tx-service": { type: "string" },
  help: { type: "boolean", short: "h" },
};

export const COMMON_FLAGS: Record<string, FlagDoc> = {
  network: { value: "NAME", help: "the Hardhat network (hardhat.config.ts)", default: "$GATEHOUSE_NETWORK, else default (the in-process chain)" },
  json: { help: "one JSON document on stdout; logs go to stderr", default: "off" },
  root: { value: "DIR", help: "the project root (policies/, deployments/, proposals/)", default: "the current directory" },
  "tx-service": { value: "URL", help: "a Safe Transaction Service (api-kit txServiceUrl)", default: "$GATEHOUSE_TX_SERVICE_URL; Safe's hosted service with $SAFE_API_KEY" },
  help: { help: "this help" },
};

/** `gatehouse <command> --help`: usage, summary, and every flag with its default. Pure. */
export function commandHelp(name: string, cmd: Command): string {
  const rows: [string, string][] = [];
  const row = (flag: string, doc: FlagDoc | undefined, opt: NonNullable<ParseArgsConfig["options"]>[string]) => {
    const value = opt.type === "string" ? ` ${doc?.value ?? "VALUE"}` : "";
    const short = opt.short ? `-${opt.short}, ` : "";
    const text = doc ? doc.help + (doc.default !== undefined ? ` (default: ${doc.default})` : "") : "";
    rows.push([`${short}--${flag}${value}${opt.multiple ? " (repeatable)" : ""}`, text]);
  };
  for (const [flag, opt] of Object.entries(cmd.options ?? {})) row(flag, cmd.flags?.[flag], opt);
  for (const [flag, opt] of Object.entries(COMMON)) if (!(flag in (cmd.options ?? {}))) row(flag, COMMON_FLAGS[flag], opt);
  const width = Math.max(...rows.map(([f]) => f.length));
  return [`Usage: gatehouse ${cmd.usage}`, `  ${cmd.summary}`, "", `Flags of '${name}':`, ...rows.map(([f, t]) => `  ${f.padEnd(width)}  ${t}`.trimEnd()), "", EXIT_CODES].join("\n");
}

const EXIT_CODES = "Exit codes: 0 success, 1 a finding, violation or refusal, 2 bad usage, config or input.";

/** package.json's version, for `gatehouse --version`. */
function version(): string {
  // src/cli/ in this repository, dist/src/cli/ in the installed package.
  const file = [path.join(import.meta.dirname, "../../package.json"), path.join(import.meta.dirname, "../../../package.json")].find((f) => existsSync(f))!;
  const pkg = JSON.parse(readFileSync(file, "utf8")) as { version: string };
  return pkg.version;
}

/**
 * Hardhat validates the network URLs of hardhat.config.ts when it loads, and names the config field
 * (HHE15) rather than the variable the URL came from. Checked first, without echoing the value.
 */
export function checkRpcUrlEnv(env: NodeJS.ProcessEnv = process.env): void {
  const value = env.GATEHOUSE_RPC_URL;
  if (value === undefined || value === "") return;
  if (!isHttpUrl(value)) throw new GatehouseError("RPC_URL_INVALID", { source: "GATEHOUSE_RPC_URL" });
}

export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/** `--from`: account:N or an address, checked before any connection (ethers would echo it in a raw error). */
export function checkAccountFlag(flag: string, value: string | undefined): void {
  if (value === undefined) return;
  if (/^account:\d+$/.test(value) || isAddress(value)) return;
  throw new GatehouseError("ACCOUNT_INVALID", { source: flag, value });
}

async function help(out: Output): Promise<number> {
  const lines = ["Usage: gatehouse <command> [--network NAME] [--json] [--tx-service URL]", "", "Commands:"];
  for (const load of Object.values(COMMANDS)) {
    const cmd = await load();
    lines.push(`  ${cmd.usage}`, `      ${cmd.summary}`);
  }
  lines.push("", "`gatehouse <command> --help` lists the command's flags and their defaults; `gatehouse --version` prints the version.", "", EXIT_CODES);
  out.print(lines.join("\n"));
  return 0;
}

export async function main(argv: string[], out?: Output): Promise<number> {
  const json = argv.includes("--json");
  const o = out ?? consoleOutput(json);
  const [name, ...rest] = argv;
  try {
    if (!name || name === "help" || name === "--help" || name === "-h") return await help(o);
    if (name === "--version" || name === "-v" || name === "version") {
      o.print(`gatehouse ${version()} (Node.js ${process.version})`);
      o.result({ ok: true, version: version(), node: process.version });
      return 0;
    }
    const load = COMMANDS[name];
    if (!load) throw new GatehouseError("USAGE", { message: `unknown command '${name}' (expected one of: ${Object.keys(COMMANDS).join(", ")})` });
    checkRpcUrlEnv();
    const cmd = await load();
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...COMMON, ...cmd.options }, allowPositionals: true, strict: true });
    } catch (e) {
      // Node appends advice about '--' positionals (with an unclosed quote) to unknown options: keep only the first sentence.
      const first = (e as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, "");
      throw new GatehouseError("USAGE", { message: `${first} (usage: gatehouse ${cmd.usage})` });
    }
    if (parsed.values.help) {
      o.print(commandHelp(name, cmd));
      return 0;
    }
    const flags = parsed.values as CommandContext["flags"];
    checkAccountFlag("--from", flags.from as string | undefined);
    return await cmd.run({
      args: parsed.positionals,
      flags,
      network: (flags.network as string | undefined) ?? process.env.GATEHOUSE_NETWORK ?? "default",
      root: (flags.root as string | undefined) ?? (await configuredRoot()),
      out: o,
    });
  } catch (e) {
    return reportError(e, o);
  }
}

/**
 * Where policies/, deployments/ and proposals/ live without --root: `gatehouse.root` when the project's
 * hardhat.config.ts sets it (the Gatehouse plugin resolves it against the config's folder), else the
 * current directory. Only an explicit setting counts: the config Hardhat loads can be another folder's
 * (HARDHAT_CONFIG), and the records must never land there unasked.
 */
async function configuredRoot(): Promise<string> {
  try {
    const { default: hre } = await import("hardhat");
    return (hre.config as { gatehouse?: { root?: string } }).gatehouse?.root ?? process.cwd();
  } catch {
    return process.cwd();
  }
}

/** A positional argument a command requires; missing it is a usage error (exit 2). */
export function requireArg(c: CommandContext, index: number, what: string, usage: string): string {
  const value = c.args[index];
  if (!value) throw new GatehouseError("USAGE", { message: `missing ${what} (usage: gatehouse ${usage})` });
  return value;
}

/** A 32-byte hash argument (safeTxHash, operation id), checked before anything connects. */
export function requireHash(value: string, what: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new GatehouseError("HASH_INVALID", { what, value: value.length > 80 ? value.slice(0, 80) + "..." : value });
  return value;
}
