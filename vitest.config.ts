import { defineConfig } from "vitest/config";
import LabSequencer from "./test/lab/sequencer.js";

// Three projects: pure unit tests; integration tests against a real sshd + PostgreSQL that the
// harness starts on 127.0.0.1; lab tests against systemd-nspawn hosts booted once per run, three
// files at a time on different hosts.
export default defineConfig({
  test: {
    reporters: ["default"],
    sequence: { sequencer: LabSequencer },
    projects: [
      {
        // GitHub's workflow parser imports JSON without import attributes: let vite transform it
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], server: { deps: { inline: ["@actions/workflow-parser"] } }, sequence: { groupOrder: 0 } },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // package.test.ts lints the workflows slipway init writes (see the unit project)
          server: { deps: { inline: ["@actions/workflow-parser"] } },
          sequence: { groupOrder: 0 },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "lab",
          include: ["test/lab/**/*.test.ts"],
          // the scenarios run the workflow files through GitHub's parser (see the unit project)
          server: { deps: { inline: ["@actions/workflow-parser"] } },
          // after unit and integration (whose 50 MB transfer through ssh2's JS crypto times out
          // under the lab's load), three files at a time: lab files that change different hosts
          // run at once, each holding its hosts (test/lab/host-locks.ts); the ones that measure
          // timings or boot labs of their own hold the whole lab
          sequence: { groupOrder: 1 },
          maxWorkers: 3,
          globalSetup: ["test/lab/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
