import path from "node:path";
import type { Command, CommandContext } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { GatehouseError } from "../../errors.ts";
import { resolveAccount } from "../../chain/context.ts";
import { closeIncident, openIncident, updateIncident, type IncidentDeps, type IncidentReport } from "../../pipeline/incident.ts";
import { pauseTargets } from "../../pipeline/pause.ts";
import { Severity } from "../../incident/record.ts";
import type { Setup } from "../../pipeline/setup.ts";
import { sinksFromPolicy } from "../../watch/sinks/config.ts";
import { filesSink } from "../../watch/sinks/files.ts";
import { displayPath } from "../../fs/atomic.ts";
import { finding } from "../output.ts";

const usage = "incident open --title T --severity low|medium|high|critical [--pause contract…|--all] | incident update --message M | incident close [--message M]";

const iso = (c: CommandContext, flag: string): string | undefined => {
  const v = c.flags[flag] as string | undefined;
  if (v === undefined) return undefined;
  if (Number.isNaN(Date.parse(v))) throw new GatehouseError("USAGE", { message: `--${flag} '${v}': expected an ISO 8601 time like 2026-01-31T12:00:00Z` });
  return new Date(v).toISOString();
};

async function deps(c: CommandContext, setup: Setup): Promise<IncidentDeps> {
  let sinks = sinksFromPolicy(setup.policy, c.root);
  if (sinks.length === 0) {
    const dir = path.join(".gatehouse", "notices", c.network);
    c.out.log(`policies/${c.network}.yaml has no notifications: writing notices to ${dir}/`);
    sinks = [filesSink(path.join(c.root, dir), { id: `files:${dir}` })];
  }
  const builderFile = c.flags["builder-file"] as string | undefined;
  // A guardian Safe signs the Transaction Builder file: no key is needed here then.
  if (builderFile) return { setup, sinks, builderFile: path.resolve(c.root, builderFile), log: (l) => c.out.log(l) };
  const guardian = await actorFor(c, setup.ctx, "guardian", resolveAccount(setup.ctx, setup.policy.governance.guardian[0]!));
  return { setup, sinks, guardian, log: (l) => c.out.log(l) };
}

function report(c: CommandContext, r: IncidentReport, sub: "open" | "update" | "close"): number {
  // Each action was logged as it happened (deps.log); --json carries them in the result.
  // A containment step the chain made impossible (a contract that cannot be paused, an operation that
  // executed first) is a finding: the command never says contained when it was not.
  const notDone = r.incident.steps.filter((s) => s.kind !== "post" && (!s.result || s.result.status === "skipped" || s.result.status === "failed"));
  const awaiting = c.flags["builder-file"] !== undefined && notDone.some((s) => !s.result);
  if (r.actions.length === 0) c.out.print(`incident ${r.incident.id}: nothing left to do (${displayPath(r.file)})`);
  else c.out.print(`incident ${r.incident.id}: ${displayPath(r.file)}`);
  c.out.result({ ok: notDone.length === 0 || awaiting, id: r.incident.id, file: r.file, status: r.incident.status, actions: r.actions, steps: r.incident.steps, ...(r.postmortem ? { postmortem: r.postmortem } : {}) });
  if (notDone.length === 0 || awaiting) return 0;
  // update and close did what they were asked (their notices); containment gaps stay in the notices.
  if (sub !== "open") {
    c.out.log(`note: ${notDone.length} containment step(s) of this incident were not done: ${notDone.map((s) => s.intent).join("; ")}`);
    return 0;
  }
  return finding(new GatehouseError("INCIDENT_INCOMPLETE", { id: r.incident.id, count: notDone.length, steps: notDone.map((s) => `${s.intent} (${s.result?.detail ?? "not done"})`).join("; ") }));
}

const command: Command = {
  summary: "open an incident (cancel every pending operation, pause, notify every sink), post updates, close it with a post-mortem draft",
  usage,
  options: {
    title: { type: "string" },
    severity: { type: "string" },
    pause: { type: "string", multiple: true },
    all: { type: "boolean" },
    id: { type: "string" },
    message: { type: "string" },
    "detected-by": { type: "string" },
    "detected-at": { type: "string" },
    "began-at": { type: "string" },
    "next-update": { type: "string" },
    template: { type: "string" },
    from: { type: "string" },
    "builder-file": { type: "string" },
  },
  flags: {
    title: { value: "TEXT", help: "open: what happened, as far as known (the incident id is the day and this title)" },
    severity: { value: "LEVEL", help: "open: low, medium, high or critical" },
    pause: { value: "CONTRACT", help: "open: a governed contract to pause", default: "pause nothing" },
    all: { help: "open: pause every governed contract", default: "off" },
    id: { value: "ID", help: "the incident (incidents/<id>.json)", default: "open: the day and the title; update/close: the one open incident" },
    message: { value: "TEXT", help: "update (required) and close: the words of the notice" },
    "detected-by": { value: "TEXT", help: "open: what detected it (a watcher alert, a monitor, a user report)", default: "not recorded" },
    "detected-at": { value: "ISO", help: "open: when it was detected", default: "now" },
    "began-at": { value: "ISO", help: "open: when the problem began, for the time to detect", default: "unknown" },
    "next-update": { value: "ISO", help: "open: when the next update is due, as the notice promises", default: "one hour after opening" },
    template: { value: "FILE", help: "close: the post-mortem template", default: "docs/postmortem-template.md" },
    from: { value: "account:N|0xADDR", help: "the guardian's key (cancels and pauses)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the guardian's default account" },
    "builder-file": { value: "FILE", help: "open: a guardian Safe signs the cancels and pauses: write them as one Transaction Builder batch; re-run once it executed", default: "send them with the guardian's key" },
  },
  run: async (c) => {
    const sub = c.args[0];
    if (sub !== "open" && sub !== "update" && sub !== "close") throw new GatehouseError("USAGE", { message: `expected open, update or close (usage: gatehouse ${usage})` });
    if (sub === "open") {
      const title = c.flags.title as string | undefined;
      if (!title?.trim()) throw new GatehouseError("USAGE", { message: "incident open: --title is required" });
      const severity = Severity.safeParse(c.flags.severity);
      if (!severity.success) throw new GatehouseError("USAGE", { message: `incident open: --severity ${String(c.flags.severity ?? "(missing)")}: expected one of low, medium, high, critical` });
      const detectedAt = iso(c, "detected-at");
      const beganAt = iso(c, "began-at");
      const nextUpdateBy = iso(c, "next-update");
      return withSetup(c, async (setup) => {
        const named = [...((c.flags.pause as unknown as string[] | undefined) ?? []), ...c.args.slice(1)];
        const pause = c.flags.all === true || named.length > 0 ? pauseTargets(setup, named, c.flags.all === true) : [];
        const r = await openIncident(await deps(c, setup), {
          title: title.trim(),
          severity: severity.data,
          pause,
          ...(c.flags.id ? { id: c.flags.id as string } : {}),
          ...(detectedAt ? { detectedAt } : {}),
          ...(beganAt ? { beganAt } : {}),
          ...(nextUpdateBy ? { nextUpdateBy } : {}),
          ...(c.flags["detected-by"] ? { detectedBy: c.flags["detected-by"] as string } : {}),
        });
        return report(c, r, "open");
      });
    }
    if (sub === "update") {
      const message = c.flags.message as string | undefined;
      if (!message?.trim()) throw new GatehouseError("USAGE", { message: "incident update: --message is required" });
      return withSetup(c, async (setup) => report(c, await updateIncident(await deps(c, setup), { id: c.flags.id as string | undefined, message: message.trim() }), "update"));
    }
    return withSetup(c, async (setup) =>
      report(c, await closeIncident(await deps(c, setup), { id: c.flags.id as string | undefined, ...(c.flags.message ? { message: c.flags.message as string } : {}), ...(c.flags.template ? { template: c.flags.template as string } : {}) }), "close"),
    );
  },
};
export default command;
