import type { Command } from "../main.ts";
import { demo } from "../../pipeline/demo.ts";

const command: Command = {
  summary: "the whole pipeline on the in-process Hardhat network, end to end (exit 0 only if every check held)",
  usage: "demo [--json]",
  run: async (c) => {
    const r = await demo({ projectRoot: c.root, log: (l) => c.out.log(l) });
    c.out.result(r);
    return r.ok ? 0 : 1;
  },
};
export default command;
