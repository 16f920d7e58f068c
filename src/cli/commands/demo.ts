import { rmSync } from "node:fs";
import type { Command } from "../main.ts";
import { demo } from "../../pipeline/demo.ts";

const command: Command = {
  summary: "the whole pipeline on the in-process Hardhat network, end to end (exit 0 only if every check held)",
  usage: "demo [--keep] [--json]",
  options: { keep: { type: "boolean" } },
  flags: { keep: { help: "keep the scratch workspace (records, signer packets, reviews, incident files) to look at afterwards", default: "removed at the end" } },
  run: async (c) => {
    const r = await demo({ projectRoot: c.root, log: (l) => c.out.log(l) });
    if (c.flags.keep) c.out.log(`workspace kept: ${r.workDir}`);
    else {
      rmSync(r.workDir, { recursive: true, force: true });
      c.out.log("workspace removed (`gatehouse demo --keep` keeps it)");
    }
    c.out.result(r);
    return r.ok ? 0 : 1;
  },
};
export default command;
