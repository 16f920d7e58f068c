#!/usr/bin/env node
// Which Hardhat network a stage of the rollout targets, from .github/gatehouse.json (reviewed in PRs
// like any other config). Input `stage`: testnet | mainnet. Output `network`.
import { actionsIO, InputError } from "../../src/actions/io.ts";
import { readConfig } from "../../src/actions/config.ts";
import { configuredNetworks, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
await runAction(io, async () => {
  const stage = io.input("stage", { required: true });
  if (stage !== "testnet" && stage !== "mainnet") throw new InputError(`input stage: '${stage}': expected 'testnet' or 'mainnet'`);
  const network = readConfig(process.cwd()).rollout[stage];
  configuredNetworks(process.cwd(), network); // refuses, naming the files, a network that is not set up
  io.output("network", network);
  io.log(`rollout ${stage}: network '${network}'`);
});
