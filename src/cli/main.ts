import { parseArgs, type ParseArgsConfig } from "node:util";
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

export interface Command {
  summary: string;
  usage: string;
  options?: ParseArgsConfig["options"];
  run(c: CommandContext): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  deploy: async () => (await import("./commands/deploy.ts")).default,
  check: async () => (await import("./commands/check.ts")).default,
  stage: async () => (await import("./commands/stage.ts")).default,
  propose: async () => (await import("./commands/propose.ts")).default,
  sign: async () => (await import("./commands/sign.ts")).default,
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
};

const COMMON: NonNullable<ParseArgsConfig["options"]> = {
  network: { type: "string" },
  json: { type: "boolean" },
  root: { type: "string" },
  "tx-service": { type: "string" },
  help: { type: "boolean", short: "h" },
};

async function help(out: Output): Promise<number> {
  const lines = ["Usage: gatehouse <command> [--network NAME] [--json] [--tx-service URL]", "", "Commands:"];
  for (const load of Object.values(COMMANDS)) {
    const cmd = await load();
    lines.push(`  ${cmd.usage}`, `      ${cmd.summary}`);
  }
  lines.push("", "Exit codes: 0 success, 1 a finding, violation or refusal, 2 bad usage, config or input.");
  out.print(lines.join("\n"));
  return 0;
}

export async function main(argv: string[], out?: Output): Promise<number> {
  const json = argv.includes("--json");
  const o = out ?? consoleOutput(json);
  const [name, ...rest] = argv;
  try {
    if (!name || name === "help" || name === "--help" || name === "-h") return await help(o);
    const load = COMMANDS[name];
    if (!load) throw new GatehouseError("USAGE", { message: `unknown command '${name}' (expected one of: ${Object.keys(COMMANDS).join(", ")})` });
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
      o.print(`gatehouse ${cmd.usage}\n  ${cmd.summary}`);
      return 0;
    }
    const flags = parsed.values as CommandContext["flags"];
    return await cmd.run({
      args: parsed.positionals,
      flags,
      network: (flags.network as string | undefined) ?? process.env.GATEHOUSE_NETWORK ?? "default",
      root: (flags.root as string | undefined) ?? process.cwd(),
      out: o,
    });
  } catch (e) {
    return reportError(e, o);
  }
}

/** A positional argument a command requires; missing it is a usage error (exit 2). */
export function requireArg(c: CommandContext, index: number, what: string, usage: string): string {
  const value = c.args[index];
  if (!value) throw new GatehouseError("USAGE", { message: `missing ${what} (usage: gatehouse ${usage})` });
  return value;
}
