// The reference remote signer as its own process: `serve` with SIGNER_HOST / SIGNER_PORT / SIGNER_API_KEY and the
// wallet policies in SIGNER_POLICIES (JSON, `Policies.layer`'s config). Prints `url <url>`, then serves until killed.
import { Console, Effect, Layer } from "effect"
import { Crypto } from "starknet-session-keys"
import * as SignerServer from "starknet-session-keys/signer"

const policies = process.env["SIGNER_POLICIES"] !== undefined ? JSON.parse(process.env["SIGNER_POLICIES"]) : undefined
const program = Effect.gen(function*() {
  const handle = yield* SignerServer.serve({ ...SignerServer.optionsFromEnv(), ...(policies !== undefined ? { policies } : {}) })
  yield* Console.log(`url ${handle.url}`)
  return yield* Effect.never
})
Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(Layer.scoped(Crypto.Crypto, Crypto.make())))).catch((error) => {
  console.error(String(error))
  process.exit(1)
})
