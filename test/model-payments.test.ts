import { describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { PaymentsLayer, runSequence, sequenceArbitrary } from "./model-payments.js"

// A small sample here; `npm run bench` runs more sequences of the same property.
const RUNS = Number(process.env["PAYMENT_RUNS"] ?? 8)

describe("model-based: payments move at most once", () => {
  it.effect.prop(
    "random lost answers, 503s, reverts, revokes, re-registrations, same-key retries and replays: the recipient holds exactly the sum of the keys resolved Executed",
    [sequenceArbitrary],
    ([ops]) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))
        yield* runSequence(ops)
      }).pipe(Effect.provide(PaymentsLayer())),
    { fastCheck: { numRuns: RUNS }, timeout: 240_000 }
  )
})
