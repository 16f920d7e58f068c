#!/usr/bin/env node
// The staged rollout's plan, from .github/gatehouse.json (reviewed in PRs like any other config):
// outputs `testnet` and `mainnet` (Hardhat networks, which are also the names of their GitHub
// environments) and `protected-branch`. It refuses (GH260) a run on any other ref than the protected
// branch: stage-and-propose never starts from an unmerged branch. Input `stage` (testnet | mainnet)
// also outputs that stage's network as `network`.
import { actionsIO, InputError } from "../../src/actions/io.ts";
import { readConfig, refuseUnlessProtectedRef } from "../../src/actions/config.ts";
import { configuredNetworks, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
await runAction(io, async () => {
  const root = process.cwd();
  const config = readConfig(root);
  refuseUnlessProtectedRef("stage and propose", root);
  const stage = io.input("stage");
  if (stage && stage !== "testnet" && stage !== "mainnet") throw new InputError(`input stage: '${stage}': expected 'testnet' or 'mainnet'`);
  // Refuses, naming the files, a testnet that is not set up (the mainnet's own job checks the mainnet).
  configuredNetworks(root, stage === "mainnet" ? config.rollout.mainnet : config.rollout.testnet);
  io.output("testnet", config.rollout.testnet);
  io.output("mainnet", config.rollout.mainnet);
  io.output("protected-branch", config.protectedBranch);
  if (stage) io.output("network", config.rollout[stage as "testnet" | "mainnet"]);
  io.log(`rollout: testnet '${config.rollout.testnet}', then mainnet '${config.rollout.mainnet}'; protected branch '${config.protectedBranch}'`);
});
