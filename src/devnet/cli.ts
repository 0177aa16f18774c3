/**
 * `npm run devnet -- [--port 5050] [--host 127.0.0.1] [--block-time 2000] [--paymaster-api-key KEY]`: serves an
 * embedded devnet over HTTP
 * (Starknet JSON-RPC, SNIP-29 paymaster and devnet_ admin methods) until interrupted.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as Devnet from "../Devnet.js"
import * as DevnetServer from "../DevnetServer.js"

const flag = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}

const port = Number(flag("port", "5050"))
const host = flag("host", "127.0.0.1")
const blockTime = Number(flag("block-time", "2000"))
const paymasterApiKey = flag("paymaster-api-key", "")

const program = Effect.gen(function*() {
  const { url } = yield* DevnetServer.serve({ port, host, ...(paymasterApiKey !== "" ? { paymasterApiKey } : {}) })
  const devnet = yield* Devnet.Devnet
  yield* Console.log(`starknet-session-keys devnet listening on ${url}`)
  yield* Console.log(`  chain id ${devnet.chainId}, block time ${blockTime} ms, paymaster relayer ${devnet.relayer}`)
  yield* Console.log(`  JSON-RPC: starknet_*, paymaster_* (SNIP-29${paymasterApiKey !== "" ? ", x-paymaster-api-key required" : ""}), devnet_* (see docs/going-live.md)`)
  return yield* Effect.never
})

program.pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: `${blockTime} millis` }))), NodeRuntime.runMain)
