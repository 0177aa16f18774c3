/**
 * A soak of docs/examples/timeboxed-automation.ts (`npm run bench automations-soak`): 50 consecutive runs on fresh
 * Postgres databases (when DATABASE_URL is set) and 20 on fresh PGlite data directories, each run with a deadline
 * (SOAK_DEADLINE_SECONDS, default 120: on a 2-core machine at a load of 15 to 20 a run takes 25 to 60 s, PGlite's
 * start alone up to a minute). Prints, per store, the runs that ended, their mean duration, and the worst time from a step being due to
 * its transaction being recorded as included. A run that stalls shows as a run past its deadline.
 *
 * SOAK_POSTGRES_RUNS, SOAK_PGLITE_RUNS, SOAK_EVERY, SOAK_POLL_INTERVAL change the figures; SOAK_KEEP_DATABASES=1
 * keeps the Postgres databases for a look, SOAK_DIAGNOSE=1 prints the database's sessions at a missed deadline.
 */
import { soak, type SoakRun } from "../helpers/soak.js"

const summary = (name: string, runs: ReadonlyArray<SoakRun>) => {
  const ok = runs.filter((r) => r.ok)
  const worst = ok.reduce((m, r) => Math.max(m, r.worstLatenessMs ?? 0), 0)
  const mean = ok.reduce((s, r) => s + r.millis, 0) / Math.max(1, ok.length)
  console.log(
    `${name.padEnd(9)} ${ok.length}/${runs.length} ended   mean run ${(mean / 1000).toFixed(1)} s   worst due→included ${(worst / 1000).toFixed(2)} s`
  )
  for (const r of runs.filter((r) => !r.ok)) console.log(`  ${r.error}`)
}

export const run = async () => {
  const every = process.env["SOAK_EVERY"] ?? "500 millis"
  const pollInterval = process.env["SOAK_POLL_INTERVAL"] ?? "250 millis"
  const progress = (name: string) => (r: SoakRun) =>
    console.log(`${name} run ${r.index}: ${r.ok ? `${(r.millis / 1000).toFixed(1)} s, worst due→included ${((r.worstLatenessMs ?? 0) / 1000).toFixed(2)} s` : "FAILED"}`)
  const deadlineMs = Number(process.env["SOAK_DEADLINE_SECONDS"] ?? 120) * 1000
  const url = process.env["DATABASE_URL"]
  const rows: Array<[string, ReadonlyArray<SoakRun>]> = []
  if (url !== undefined) {
    const runs = Number(process.env["SOAK_POSTGRES_RUNS"] ?? 50)
    rows.push(["Postgres", await soak({ store: "postgres", databaseUrl: url, runs, every, pollInterval, deadlineMs, onRun: progress("Postgres") })])
  } else {
    console.log("DATABASE_URL is not set: Postgres left out")
  }
  const runs = Number(process.env["SOAK_PGLITE_RUNS"] ?? 20)
  rows.push(["PGlite", await soak({ store: "pglite", runs, every, pollInterval, deadlineMs, onRun: progress("PGlite") })])
  console.log(`timeboxed-automation.ts, 3 steps every ${every}, engine polling every ${pollInterval}, devnet blocks every 200 ms, a fresh database per run`)
  for (const [name, r] of rows) summary(name, r)
}
