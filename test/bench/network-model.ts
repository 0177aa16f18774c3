/**
 * The long run of the network-profile property (test/model-network.ts): `NETWORK_SEQUENCES` random sequences
 * (default 1,000, about 6,500 steps) of payments (failing calls, skipped simulations, lost answers), revokes,
 * re-registrations and policy changes on the devnet's network profile.
 */
import { Effect, FastCheck as fc, TestClock, TestContext } from "effect"
import { NetworkLayer, runSequence, sequenceArbitrary, stats } from "../model-network.js"

export async function run(): Promise<void> {
  const sequences = Number(process.env["NETWORK_SEQUENCES"] ?? 1000)
  const start = performance.now()
  await fc.assert(
    fc.asyncProperty(sequenceArbitrary, (ops) =>
      Effect.runPromise(
        Effect.zipRight(TestClock.setTime(Date.UTC(2026, 0, 1)), runSequence(ops)).pipe(
          Effect.provide(NetworkLayer()),
          Effect.provide(TestContext.TestContext)
        )
      )),
    { numRuns: sequences }
  )
  const seconds = (performance.now() - start) / 1000
  console.log(`network-profile property: ${sequences} sequences, ${stats.steps} steps in ${seconds.toFixed(1)} s; outcomes ${JSON.stringify(stats)}`)
}
