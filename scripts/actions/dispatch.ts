#!/usr/bin/env node
// Starts another workflow of this repository (workflow_dispatch) on the branch this run is on: the
// executor uses it to continue the staged rollout on the mainnet once the testnet operation executed.
// Inputs: workflow (file name), inputs (JSON object of the workflow's inputs). Needs GITHUB_TOKEN
// (actions: write) in the step's env; runs started by GITHUB_TOKEN dispatches do run, unlike pushes.
import { dispatchWorkflow, octokitFor, runContext } from "../../src/actions/github.ts";
import { actionsIO, InputError } from "../../src/actions/io.ts";
import { maskSecrets, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
maskSecrets(io);
await runAction(io, async () => {
  const workflow = io.input("workflow", { required: true });
  const inputsText = io.input("inputs", { fallback: "{}" });
  let inputs: Record<string, string>;
  try {
    inputs = JSON.parse(inputsText) as Record<string, string>;
  } catch {
    throw new InputError(`input inputs: '${inputsText}': expected a JSON object of strings`);
  }
  const ctx = runContext();
  const token = process.env.GITHUB_TOKEN;
  if (!token || !ctx.refName) throw new InputError("dispatch needs GITHUB_TOKEN in the step's env and GITHUB_REF_NAME");
  await dispatchWorkflow({ octokit: octokitFor(token, ctx.apiUrl), owner: ctx.owner, repo: ctx.repo, workflow, ref: ctx.refName, inputs });
  io.log(`dispatched ${workflow} on ${ctx.refName} with ${JSON.stringify(inputs)}`);
  await io.summary(`Started \`${workflow}\` on \`${ctx.refName}\` with inputs \`${JSON.stringify(inputs)}\`.\n`);
});
