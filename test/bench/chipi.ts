/**
 * The guide's flow, side by side with the published Chipi SDK (`@chipi-stack/backend` 14.4, a dev dependency of
 * this benchmark only) on the same served devnet: 40 sequential `executeTransactionWithSession` calls through
 * each client, in interleaved turns of 5, HTTP requests per execute and wall time per execute. Ours checks the
 * typed data, runs its preflight and simulates the calls on every call; the SDK does none of that. Every client talks to the devnet through
 * a counting proxy that also names what each HTTP request carried (its JSON-RPC methods, or its REST path); the two
 * clients given the node's `wsUrl` read over that WebSocket connection instead, outside the proxy.
 */
import { ChipiServerSDK } from "@chipi-stack/backend"
import { Effect, Layer } from "effect"
import * as http from "node:http"
import { Devnet } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import { createClient } from "starknet-session-keys/promise"
import * as keystore from "../../src/internal/crypto/keystore.js"
import { call, signOutside, USDC } from "../helpers/chain.js"

const EXECUTES = 40
const ROUNDS = 8
const WARMUP = 3
const PIN = "2580"
const API_PUBLIC_KEY = "pk_dev_" + "0".repeat(32)

type Session = { readonly publicKey: string; readonly encryptedPrivateKey: string; readonly validUntil: number }
type Wallet = { readonly publicKey: string; readonly encryptedPrivateKey: string; readonly walletType: "CHIPI" }
type Execute = (args: { readonly wallet: Wallet; readonly session: Session; readonly calls: ReadonlyArray<unknown> }) => Promise<unknown>

/** A loopback proxy in front of `target` that names each HTTP request: its JSON-RPC methods, or its REST path. */
const countingProxy = (target: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly log: Array<string>; readonly close: () => void }>((resume) => {
      const log: Array<string> = []
      const server = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const body = Buffer.concat(chunks)
          let label = `${req.method} ${(req.url ?? "").replace(/\?.*$/, "")}`
          try {
            const json = JSON.parse(body.toString("utf8")) as unknown
            const items = (Array.isArray(json) ? json : [json]) as ReadonlyArray<{ method?: unknown }>
            if (items.every((i) => typeof i?.method === "string")) label = items.map((i) => i.method).join("+")
          } catch {
            // not JSON: the path names it
          }
          log.push(label)
          const forward = http.request(target + (req.url ?? "/"), { method: req.method, headers: req.headers }, (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(res)
          })
          forward.on("error", () => res.destroy())
          forward.end(body)
        })
      })
      server.keepAliveTimeout = 60_000
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, log, close: () => server.close() }))
      })
    }),
    (proxy) => Effect.sync(() => proxy.close())
  )

/** `a+b` x3, ... : how often each kind of request was sent. */
const tally = (log: ReadonlyArray<string>) =>
  [...log.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>())].map(([l, n]) => `${n} x ${l}`).join("; ")

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const measure = Effect.gen(function*() {
  const served = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
  const server = yield* countingProxy(served.url)
  const devnet = yield* Devnet.Devnet
  process.env["STARKNET_RPC_URL"] = server.url

  /** A funded wallet with a session registered on it (set up on the devnet directly: not what is measured). */
  const setUp = (session: Session) =>
    Effect.gen(function*() {
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
      const owner = keystore.decryptLegacy(wallet.encryptedPrivateKey, PIN)
      const ownerCalldata = yield* signRegistration(wallet.publicKey, owner, session)
      yield* devnet.submitOutside(wallet.publicKey, ownerCalldata)
      yield* devnet.mineBlock
      return { ...wallet, walletType: "CHIPI" as const }
    })

  let clients = 0
  /** A client set up to execute: its wallet and session registered, its recipients its own. */
  const prepare = (label: string, session: Session, execute: Execute) =>
    Effect.gen(function*() {
      const base = 0xb000 + 0x1000 * clients++
      const wallet = yield* setUp(session)
      let sent = 0
      const once = () =>
        execute({ wallet, session, calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0x" + (base + sent++).toString(16), "0x1", "0x0"] }] })
      return { label, once, last: () => "0x" + (base + sent - 1).toString(16), times: [] as Array<number>, log: [] as Array<string> }
    })

  const sdk = new ChipiServerSDK({ apiPublicKey: API_PUBLIC_KEY, apiSecretKey: "sk_dev_secret", alphaUrl: server.url })
  const rest = createClient({ apiPublicKey: API_PUBLIC_KEY, apiSecretKey: "sk_dev_secret", baseUrl: `${server.url}/v1`, rpcUrl: server.url })
  const snip29 = createClient({ rpcUrl: server.url, paymasterUrl: server.url })
  // With the node's WebSocket URL: the reads go over that connection (not through the counting proxy).
  const restWs = createClient({ apiPublicKey: API_PUBLIC_KEY, apiSecretKey: "sk_dev_secret", baseUrl: `${server.url}/v1`, rpcUrl: server.url, wsUrl: served.wsUrl })
  const snip29Ws = createClient({ rpcUrl: server.url, paymasterUrl: server.url, wsUrl: served.wsUrl })
  const duration = 86_400
  const runs = [
    yield* prepare("Chipi SDK 14.4", sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: duration }) as Session, (args) =>
      sdk.executeTransactionWithSession({ params: { encryptKey: PIN, ...args } as never })),
    yield* prepare("ours, Chipi REST", rest.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: duration }), (args) =>
      rest.executeTransactionWithSession({ params: { encryptKey: PIN, ...args } as never })),
    yield* prepare("ours, SNIP-29", snip29.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: duration }), (args) =>
      snip29.executeTransactionWithSession({ params: { encryptKey: PIN, ...args } as never })),
    yield* prepare("ours, Chipi REST, wsUrl", restWs.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: duration }), (args) =>
      restWs.executeTransactionWithSession({ params: { encryptKey: PIN, ...args } as never })),
    yield* prepare("ours, SNIP-29, wsUrl", snip29Ws.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: duration }), (args) =>
      snip29Ws.executeTransactionWithSession({ params: { encryptKey: PIN, ...args } as never }))
  ]
  yield* Effect.promise(async () => {
    for (const r of runs) for (let i = 0; i < WARMUP; i++) await r.once()
  })
  yield* devnet.mineBlock
  // Interleaved rounds (the machine is shared, and its load drifts): each client runs a few sequential executes in
  // turn, timed one by one; the HTTP requests of its turns are its own.
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of runs) {
      const before = server.log.length
      yield* Effect.promise(async () => {
        for (let i = 0; i < EXECUTES / ROUNDS; i++) {
          const start = performance.now()
          await r.once()
          r.times.push(performance.now() - start)
        }
      })
      r.log.push(...server.log.slice(before))
    }
  }
  yield* devnet.mineBlock
  const results = []
  for (const r of runs) {
    const received = yield* devnet.balanceOf(USDC, r.last())
    results.push({
      label: r.label,
      requests: r.log.length / r.times.length,
      sent: tally(r.log),
      mean: r.times.reduce((a, b) => a + b, 0) / r.times.length,
      median: median(r.times),
      received
    })
  }
  yield* Effect.promise(() => Promise.all([rest, snip29, restWs, snip29Ws].map((client) => client.close())))
  return results
}).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 hour" }))))

/** The owner-signed `add_or_update_session_key` self-call, as `execute_from_outside_v2` calldata. */
const signRegistration = (wallet: string, owner: Uint8Array, session: Session) =>
  Effect.gen(function*() {
    const { calldata } = yield* signOutside(wallet, [
      call(wallet, "add_or_update_session_key", [session.publicKey, BigInt(session.validUntil), 1_000n, 0n])
    ], { key: owner })
    return calldata
  })

export async function run(): Promise<void> {
  const [theirs, ...ours] = await Effect.runPromise(measure)
  for (const r of [theirs!, ...ours]) {
    console.log(
      `${r.label}: ${EXECUTES} sequential executes, ${r.requests.toFixed(2)} HTTP requests per execute, ` +
        `${r.mean.toFixed(1)} ms mean (${r.median.toFixed(1)} ms median) per execute; last transfer landed: ${r.received === 1n}`
    )
    console.log(`  sent over ${EXECUTES} executes: ${r.sent}`)
  }
  for (const one of ours) {
    console.log(
      `${one.label} / SDK: wall time ${(one.median / theirs!.median).toFixed(2)}x of the medians ` +
        `(${(one.mean / theirs!.mean).toFixed(2)}x of the means; goal <= 1.2x), ` +
        `${one.requests.toFixed(2)} HTTP requests per execute against ${theirs!.requests.toFixed(2)} (goal <= 2)`
    )
  }
}
