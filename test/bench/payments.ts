/**
 * The long run of the exactly-once property: `PAYMENT_SEQUENCES` random sequences (default 300) of payments under
 * idempotency keys with lost answers, 503s, reverts, revokes, re-registrations, same-key retries and replays.
 */
import { Effect, FastCheck as fc, TestClock, TestContext } from "effect"
import { PaymentsLayer, runSequence, sequenceArbitrary, stats } from "../model-payments.js"

export async function run(): Promise<void> {
  const sequences = Number(process.env["PAYMENT_SEQUENCES"] ?? 300)
  const start = performance.now()
  await fc.assert(
    fc.asyncProperty(sequenceArbitrary, (ops) =>
      Effect.runPromise(
        Effect.zipRight(TestClock.setTime(Date.UTC(2026, 0, 1)), runSequence(ops)).pipe(
          Effect.provide(PaymentsLayer()),
          Effect.provide(TestContext.TestContext)
        )
      )),
    { numRuns: sequences }
  )
  const seconds = (performance.now() - start) / 1000
  console.log(`exactly-once property: ${sequences} sequences in ${seconds.toFixed(1)} s; outcomes ${JSON.stringify(stats)}`)
}
