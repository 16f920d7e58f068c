import path from "node:path";
import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";
import { withSetup } from "../chain.ts";
import { SCENARIOS, drill, renderDrill } from "../../pipeline/drill.ts";
import { GatehouseError } from "../../errors.ts";
import { finding } from "../output.ts";

const usage = `drill <${Object.keys(SCENARIOS).join("|")}> [--out DIR]`;
const command: Command = {
  summary: "rehearse the incident runbook (cancel, pause, notify) on an in-process fork; nothing reaches the real chain",
  usage,
  options: { out: { type: "string" } },
  flags: { out: { value: "DIR", help: "where the drill's incident file and notices go", default: ".gatehouse/drills/<network>-<scenario>-<time>" } },
  run: async (c) => {
    const scenario = requireArg(c, 0, "the scenario", usage);
    if (!SCENARIOS[scenario]) throw new GatehouseError("DRILL_UNKNOWN", { scenario, known: Object.keys(SCENARIOS).join(", ") });
    return withSetup(c, async (setup) => {
      const dir = path.resolve(c.root, (c.flags.out as string | undefined) ?? path.join(".gatehouse", "drills", `${c.network}-${scenario}-${new Date().toISOString().replace(/[:.]/g, "-")}`));
      // The report below says what happened; progress lines only with --json (on stderr).
      const r = await drill({ setup, scenario, dir, ...(c.out.json ? { log: (l: string) => c.out.log(l) } : {}) });
      c.out.print(renderDrill(r));
      c.out.result({ ok: r.findings.length === 0, ...r });
      // What the drill could not contain is a finding, as it would be in a real incident.
      if (r.findings.length === 0) return 0;
      return finding(new GatehouseError("INCIDENT_INCOMPLETE", { id: r.incident.id, count: r.findings.length, steps: r.findings.join("; ") }));
    });
  },
};
export default command;
