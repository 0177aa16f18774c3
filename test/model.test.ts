import { describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { ModelLayer, runSequence, sequenceArbitrary } from "./model.js"

// A small sample here; `npm run bench` runs 10,000 sequences of the same property.
const RUNS = Number(process.env["MODEL_RUNS"] ?? 50)

describe("model-based: the devnet against a plain model of the rules", () => {
  it.effect.prop(
    "random register / execute / revoke / advance / re-register / spending-policy sequences: verdicts, session data, policies and balances agree; preflight agrees with the chain",
    [sequenceArbitrary],
    ([ops]) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))
        yield* runSequence(ops)
      }).pipe(Effect.provide(ModelLayer)),
    { fastCheck: { numRuns: RUNS } }
  )
})
