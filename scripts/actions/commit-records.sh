#!/usr/bin/env bash
# Commits the proposal records of one network (proposals/<network>/, plus the OpenZeppelin manifest
# hardhat-upgrades keeps for real networks) and pushes them to the branch the workflow runs on.
# Usage: commit-records.sh <network> <message>. Needs GITHUB_TOKEN (contents: write) in the step's env;
# the checkout keeps no credentials, so the token is handed to git for these commands only.
set -euo pipefail
network="$1"
message="$2"
branch="${GITHUB_REF_NAME:?GITHUB_REF_NAME is not set}"

git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
git add -- "proposals/${network}"
if [ -d .openzeppelin ]; then git add -- .openzeppelin; fi
if git diff --cached --quiet; then
  echo "records of '${network}' unchanged: nothing to commit"
  exit 0
fi
git commit -q -m "${message} [skip ci]"

auth=()
if [ -n "${GITHUB_TOKEN:-}" ]; then
  basic="$(printf 'x-access-token:%s' "${GITHUB_TOKEN}" | base64 | tr -d '\n')"
  echo "::add-mask::${basic}"
  auth=(-c "http.extraheader=AUTHORIZATION: basic ${basic}")
fi
# Another job (the other network, or the executor) may have pushed records meanwhile: rebase and retry.
for attempt in 1 2 3; do
  if git "${auth[@]}" pull -q --rebase --autostash origin "${branch}" && git "${auth[@]}" push -q origin "HEAD:${branch}"; then
    echo "committed the records of '${network}' to ${branch}: $(git rev-parse HEAD)"
    exit 0
  fi
  sleep $((attempt * 5))
done
echo "::error::could not push the records of '${network}' to ${branch}"
exit 1
