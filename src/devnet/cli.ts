#!/usr/bin/env node
/**
 * `starknet-session-keys-devnet [options]`: serves an embedded devnet over HTTP (Starknet JSON-RPC, the SNIP-29
 * paymaster, `devnet_*` admin methods and Chipi's REST routes) until interrupted. Every flag is checked; a bad one
 * is one line on stderr and exit code 2, a server that cannot start one line and exit code 1.
 */
import { Cause, Effect, Exit, Fiber, Layer, Option } from "effect"
import * as Devnet from "../Devnet.js"
import * as DevnetServer from "../DevnetServer.js"
import { HELP, NAME, parseArgs, UsageError } from "./args.js"

const fail = (message: string, code: number): never => {
  process.stderr.write(`${NAME}: ${message}\n`)
  process.exit(code)
}

const main = () => {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs(process.argv.slice(2))
  } catch (error) {
    if (error instanceof UsageError) return fail(error.message, 2)
    throw error
  }
  if (parsed.help) {
    process.stdout.write(HELP + "\n")
    return
  }
  const f = parsed.flags
  const str = (name: string) => (typeof f[name] === "string" ? (f[name] as string) : undefined)
  const num = (name: string) => (typeof f[name] === "number" ? (f[name] as number) : undefined)
  const blockTime = num("block-time") ?? 2000
  const paymasterApiKey = str("paymaster-api-key") ?? process.env["DEVNET_PAYMASTER_API_KEY"]
  const adminKey = str("admin-key") ?? process.env["DEVNET_ADMIN_KEY"]
  const chainId = str("chain-id")
  const seed = str("seed")
  const callerMode = str("caller-mode") as "any" | "relayer" | undefined
  const timeout = num("request-timeout")
  const maxBodyBytes = num("max-body-bytes")
  const maxBatch = num("max-batch")
  const shape = str("execution-error") as DevnetServer.ExecutionErrorShape | undefined
  const profile = str("profile") as "instant" | "network" | undefined
  const paymasterErrors = str("paymaster-errors") as "snip29" | "avnu" | undefined
  const timeBounds = str("time-bounds") as "devnet" | "avnu" | undefined
  const millis = (flag: string, option: string) => {
    const n = num(flag)
    return n === undefined ? {} : { [option]: `${n} millis` as const }
  }

  const program = Effect.gen(function*() {
    const { url, wsUrl } = yield* DevnetServer.serve({
      port: num("port") ?? 5050,
      host: str("host") ?? "127.0.0.1",
      ...(paymasterApiKey !== undefined && paymasterApiKey !== "" ? { paymasterApiKey } : {}),
      ...(adminKey !== undefined && adminKey !== "" ? { adminKey } : {}),
      ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
      ...(maxBatch !== undefined ? { maxBatch } : {}),
      ...(timeout !== undefined ? { requestTimeout: `${timeout} millis` as const } : {}),
      ...(shape !== undefined ? { executionErrorShape: shape } : {})
    })
    const devnet = yield* Devnet.Devnet
    const log = (line: string) => Effect.sync(() => process.stdout.write(line + "\n"))
    yield* log(`${NAME} listening on ${url}`)
    yield* log(`  chain id ${devnet.chainId}, block time ${blockTime} ms, profile ${profile ?? "instant"}, paymaster relayer ${devnet.relayer}`)
    yield* log(`  JSON-RPC 2.0: starknet_* (spec 0.9), paymaster_* (SNIP-29${paymasterApiKey ? ", x-paymaster-api-key required" : ""}), devnet_*${adminKey ? " (x-devnet-admin-key required)" : ""}; REST: /v1/transactions/...`)
    yield* log(`  WebSocket ${wsUrl}: starknet_subscribe* (spec 0.9: transaction status, new heads, events), starknet_unsubscribe, and every method above`)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.fresh(Devnet.layer({
      blockTime: `${blockTime} millis`,
      ...(chainId !== undefined ? { chainId } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(callerMode !== undefined ? { callerMode } : {}),
      ...(profile !== undefined ? { profile } : {}),
      ...millis("latest-lag", "latestLag"),
      ...millis("submission-hidden", "submissionHidden"),
      ...millis("candidate-for", "candidateFor"),
      ...millis("duplicate-filter", "duplicateFilter"),
      ...(paymasterErrors !== undefined ? { paymasterErrors } : {}),
      ...(timeBounds !== undefined ? { timeBounds } : {})
    })))
  )
  const fiber = Effect.runFork(program)
  const stop = () => void Effect.runFork(Fiber.interrupt(fiber))
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  fiber.addObserver((exit) => {
    if (Exit.isSuccess(exit) || Exit.isInterrupted(exit)) process.exit(0)
    const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
    if (error instanceof DevnetServer.ServeError) {
      fail(error.reason === "AddressInUse" ? `${error.message} (choose another with --port, or --port 0 for a free one)` : error.message, 1)
    }
    fail(Cause.pretty(exit.cause).split("\n")[0] ?? "failed", 1)
  })
}

main()
