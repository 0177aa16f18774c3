import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (file: string) => fileURLToPath(new URL(`./src/${file}`, import.meta.url))
// CI asks for a machine-readable report beside the usual output (see .ci/run).
const jsonReport = process.env["VITEST_JSON_REPORT"]
/** The test files that start child processes. */
const processTests = [
  "test/automations-crash.test.ts",
  "test/automations-cluster.test.ts",
  "test/automations-soak.test.ts",
  "test/automations-stall.test.ts",
  "test/app.test.ts",
  "test/budgets-sql.test.ts",
  "test/signer.test.ts",
  "test/devnet/cli.test.ts"
]

export default defineConfig({
  resolve: {
    // Tests and examples import the package by its own name, as users do, straight from source.
    alias: [
      { find: /^starknet-session-keys\/devnet$/, replacement: src("Devnet.ts") },
      { find: /^starknet-session-keys\/automations$/, replacement: src("Automations.ts") },
      { find: /^starknet-session-keys\/devnet\/server$/, replacement: src("DevnetServer.ts") },
      { find: /^starknet-session-keys\/signer$/, replacement: src("SignerServer.ts") },
      { find: /^starknet-session-keys\/promise$/, replacement: src("promise.ts") },
      { find: /^starknet-session-keys$/, replacement: src("index.ts") }
    ]
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two test files at a time (Vitest's default is one fewer than the CPUs: one on a 2-core machine). Most tests
    // wait on a server, a timer or a key derivation off the event loop, so two overlap without starving each other.
    maxWorkers: 2,
    minWorkers: 1,
    // The PGlite template data directory, made before the workers start (test/global-setup.ts).
    globalSetup: ["./test/global-setup.ts"],
    ...(jsonReport ? { reporters: ["default", "json"], outputFile: { json: jsonReport } } : {}),
    projects: [
      // Everything in-process, files in parallel.
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: processTests } },
      // Tests that spawn processes (workers killed and restarted, the devnet's CLI) run once the parallel ones are
      // done (a later group), so the suite's own load does not starve them. Each file has a process of its own (one
      // fork for all of them let a file's closing pool reach into the next file's test).
      { extends: true, test: { name: "process", include: processTests, sequence: { groupOrder: 1 } } }
    ]
  }
})
