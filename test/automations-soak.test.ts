/**
 * A short soak of docs/examples/timeboxed-automation.ts as a real process (the long one is `npm run bench
 * automations-soak`): consecutive runs, each on a fresh database, each with a deadline. A stalled automation (a woken
 * workflow whose delivery was lost waits 10 minutes in @effect/cluster 0.60.2, Effect-TS/effect#8312) misses it.
 */
import { describe, expect, it } from "vitest"
import { DATABASE_URL } from "./helpers/databases.js"
import { soak, type SoakRun } from "./helpers/soak.js"

/** Runs per store: 2 keep the suite's process project to a few minutes on a busy 2-core machine. */
const RUNS = Number(process.env["SOAK_TEST_RUNS"] ?? 2)
/** A run of 3 steps takes 25 to 60 s on a 2-core machine at a load of 15 to 20; a stalled one, 10 minutes. */
const DEADLINE_MS = 120_000
/** From a step being due to its transaction recorded as included: measured at most 26 s at a load of 15 to 20. */
const LATENESS_BOUND_MS = 60_000

const check = (runs: ReadonlyArray<SoakRun>) => {
  expect(runs.filter((r) => !r.ok).map((r) => r.error)).toEqual([])
  const worst = Math.max(...runs.map((r) => r.worstLatenessMs ?? Infinity))
  expect(worst, `worst due→included ${worst} ms over ${runs.length} runs`).toBeLessThan(LATENESS_BOUND_MS)
}

describe(`timeboxed-automation.ts, ${RUNS} consecutive runs on fresh databases (real processes)`, () => {
  it("on PGlite: every run ends within its deadline, every step included within the bound of its due time", async () => {
    check(await soak({ store: "pglite", runs: RUNS, deadlineMs: DEADLINE_MS }))
  }, RUNS * DEADLINE_MS + 30_000)

  it.skipIf(DATABASE_URL === undefined)("on Postgres: likewise", async () => {
    check(await soak({ store: "postgres", databaseUrl: DATABASE_URL!, runs: RUNS, deadlineMs: DEADLINE_MS }))
  }, RUNS * DEADLINE_MS + 30_000)
})
