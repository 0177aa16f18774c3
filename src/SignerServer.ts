/**
 * The reference remote signer (`starknet-session-keys/signer`): a small HTTP server that holds session keys
 * encrypted, with their PINs, and signs a session's payment only when
 *
 * 1. the request is authenticated (`authorization: Bearer <apiKey>`, compared in constant time); it serves on
 *    loopback by default and refuses to listen elsewhere without an API key;
 * 2. the typed data's calls are the request's calls, and the hash it derives itself from the typed data (SNIP-12,
 *    the account's domain) is the hash asked: it never signs a hash it did not derive from the calls;
 * 3. the calls pass the same policies the library applies (`Policies.evaluate` and custom predicates; budgets are
 *    the application's ledger's).
 *
 * Every decision is logged (wallet, session, nonce, decision, rule) without a secret. Refusals are the library's
 * typed errors, encoded: `SignerError` (401, 400, 404) and `PolicyViolation` (403).
 *
 * Routes: `POST /v1/sign-session` (a `Signer.SignSessionRequest`, answers `{ r, s }`), `POST /v1/sessions` (holds a
 * session key: `{ wallet, session: { publicKey, encryptedPrivateKey }, pin }`; the key is checked by decrypting it).
 *
 * @since 0.1.0
 */
import * as nodeCrypto from "node:crypto"
import * as http from "node:http"
import { Effect, Redacted, Runtime, Schema, type Scope } from "effect"
import { Crypto } from "./Crypto.js"
import { InvalidInput, PolicyViolation, SignerError, WalletHalted } from "./Errors.js"
import { callHash, fromTypedData, toOutsideCalls, typedDataHash } from "./OutsideExecution.js"
import * as Policies from "./Policies.js"
import { Address, Felt } from "./Schemas.js"
import { SignSessionRequest } from "./Signer.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  /** Where to listen: 127.0.0.1 by default. Another host needs `apiKey`. */
  readonly host?: string
  /** 0 (the default) for a free port. */
  readonly port?: number
  /** The key clients must present. Required off loopback. */
  readonly apiKey?: Redacted.Redacted<string>
  /** Policies applied to every signature, as the library's (`Policies.layer`'s config). */
  readonly policies?: Policies.WalletPoliciesConfig
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SignerHandle {
  readonly url: string
  /** Holds a session key (encrypted, with its PIN) after checking that the PIN decrypts it. */
  readonly hold: (params: {
    readonly wallet: string
    readonly session: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly pin: Redacted.Redacted<string>
  }) => Effect.Effect<void, InvalidInput | SignerError>
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"])

const HoldRequest = Schema.Struct({
  wallet: Address,
  session: Schema.Struct({ publicKey: Felt, encryptedPrivateKey: Schema.String }),
  pin: Schema.String
})

const sameSecret = (given: string, expected: string) => {
  // Digests first: equal lengths for timingSafeEqual, and no early exit on a length difference.
  const a = nodeCrypto.createHash("sha256").update(given).digest()
  const b = nodeCrypto.createHash("sha256").update(expected).digest()
  return nodeCrypto.timingSafeEqual(a, b)
}

const MAX_BODY = 1_000_000

const readBody = (req: http.IncomingMessage) =>
  Effect.async<unknown, SignerError>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY) {
        resume(Effect.fail(new SignerError({ reason: "invalid-request", detail: "the body is too large", status: 413 })))
        req.destroy()
      } else chunks.push(chunk)
    })
    req.on("end", () => {
      try {
        resume(Effect.succeed(JSON.parse(Buffer.concat(chunks).toString("utf8"))))
      } catch {
        resume(Effect.fail(new SignerError({ reason: "invalid-request", detail: "the body is not JSON", status: 400 })))
      }
    })
    req.on("error", () => resume(Effect.fail(new SignerError({ reason: "invalid-request", detail: "the body was cut", status: 400 }))))
  })

const statusOf = (error: SignerError | PolicyViolation | WalletHalted | InvalidInput) =>
  error._tag === "PolicyViolation" || error._tag === "WalletHalted" ? 403 : error._tag === "InvalidInput" ? 400 : error.status ?? 400

/** The keys the signer holds, and the signature of a session's payment once every check passed. */
const keyring = (crypto: Crypto["Type"], walletPolicies: Policies.WalletPolicies["Type"]) => {
  /** Held keys by `wallet|session`, encrypted, with their PIN. */
  const held = new Map<string, { readonly encrypted: string; readonly pin: Redacted.Redacted<string>; readonly publicKey: Felt }>()
  const keyOf = (wallet: string, session: string) => `${BigInt(wallet).toString(16)}|${BigInt(session).toString(16)}`

  const hold: SignerHandle["hold"] = (params) =>
    Effect.gen(function*() {
      const request = yield* Schema.decodeUnknown(HoldRequest)({ ...params, pin: Redacted.value(params.pin) }).pipe(
        Effect.mapError(() => new InvalidInput({ path: "session", rule: "must be { wallet, session: { publicKey, encryptedPrivateKey }, pin }", issues: [] }))
      )
      // The PIN must open the key now, not at the first payment.
      yield* Effect.scoped(crypto.decryptPrivateKey(request.session.encryptedPrivateKey, params.pin, request.session.publicKey)).pipe(
        Effect.mapError(() => new SignerError({ reason: "invalid-key", detail: "the PIN does not open this session key", status: 400 }))
      )
      held.set(keyOf(request.wallet, request.session.publicKey), { encrypted: request.session.encryptedPrivateKey, pin: params.pin, publicKey: request.session.publicKey })
      yield* Effect.logInfo("signer: session key held").pipe(Effect.annotateLogs({ wallet: request.wallet, sessionPublicKey: request.session.publicKey }))
    })

  const signSession = (body: unknown) =>
    Effect.gen(function*() {
      const request = yield* Schema.decodeUnknown(SignSessionRequest)(body).pipe(
        Effect.mapError((error) => new SignerError({ reason: "invalid-request", detail: error.message.slice(0, 500), status: 400 }))
      )
      const { calls, sessionPublicKey, typedData, wallet } = request
      const entry = held.get(keyOf(wallet, sessionPublicKey))
      if (entry === undefined) {
        return yield* new SignerError({ reason: "unknown-session", detail: `no key held for session ${sessionPublicKey} of ${wallet}`, status: 404 })
      }
      // The calls signed are the calls judged: the typed data must carry exactly these.
      const signedCalls = fromTypedData(typedData).outsideExecution.calls.map(callHash)
      const askedCalls = toOutsideCalls(calls).map(callHash)
      if (signedCalls.length !== askedCalls.length || signedCalls.some((h, i) => h !== askedCalls[i])) {
        return yield* new SignerError({ reason: "calls-mismatch", detail: "the typed data's calls are not the calls given", status: 400 })
      }
      const derived = typedDataHash(typedData, wallet)
      if (BigInt(derived) !== BigInt(request.hash)) {
        return yield* new SignerError({ reason: "hash-mismatch", detail: "the hash asked is not the hash of the typed data", status: 400 })
      }
      yield* Policies.judge(walletPolicies.forWallet(wallet), { wallet, sessionPublicKey, calls })
      const signature = yield* Effect.scoped(Effect.flatMap(
        crypto.decryptPrivateKey(entry.encrypted, entry.pin, entry.publicKey, { cache: true }),
        (key) => crypto.sign(derived, key)
      )).pipe(Effect.mapError(() => new SignerError({ reason: "invalid-key", detail: "the held key no longer opens", status: 500 })))
      return { signature, nonce: fromTypedData(typedData).outsideExecution.nonce, wallet, sessionPublicKey }
    })
  return { hold, signSession }
}

/**
 * Starts the signer in the scope (closed with it). Fails with `InvalidInput` for a host off loopback without an API
 * key, or a policy that is not valid.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (options: ServeOptions = {}): Effect.Effect<SignerHandle, InvalidInput | SignerError, Crypto | Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    if (!LOOPBACK.has(host) && options.apiKey === undefined) {
      const rule = "a signer off loopback needs an apiKey"
      return yield* new InvalidInput({ path: "host", rule, issues: [{ path: "host", rule }] })
    }
    const walletPolicies = yield* Policies.make(options.policies ?? {})
    const crypto = yield* Crypto
    const { hold, signSession } = keyring(crypto, walletPolicies)

    const runtime = yield* Effect.runtime<never>()
    const answer = (res: http.ServerResponse, status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    }
    const encodeRefusal = Schema.encodeSync(Schema.Union(PolicyViolation, WalletHalted, SignerError, InvalidInput))

    const handle = (req: http.IncomingMessage, res: http.ServerResponse) =>
      Effect.gen(function*() {
        const auth = req.headers.authorization
        if (options.apiKey !== undefined) {
          const given = typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice(7) : ""
          if (!sameSecret(given, Redacted.value(options.apiKey))) {
            return yield* new SignerError({ reason: "unauthorized", detail: "a valid API key is required", status: 401 })
          }
        }
        if (req.method !== "POST") return yield* new SignerError({ reason: "invalid-request", detail: "POST only", status: 405 })
        const body = yield* readBody(req)
        if (req.url === "/v1/sessions") {
          const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>
          yield* hold({
            wallet: b["wallet"] as string,
            session: b["session"] as { readonly publicKey: string; readonly encryptedPrivateKey: string },
            pin: Redacted.make(typeof b["pin"] === "string" ? b["pin"] : "")
          })
          return { status: 200, body: { held: true } }
        }
        if (req.url === "/v1/sign-session") {
          const signed = yield* signSession(body)
          yield* Effect.logInfo("signer: signed").pipe(
            Effect.annotateLogs({ decision: "signed", wallet: signed.wallet, sessionPublicKey: signed.sessionPublicKey, nonce: signed.nonce })
          )
          return { status: 200, body: signed.signature }
        }
        return yield* new SignerError({ reason: "invalid-request", detail: "no such route", status: 404 })
      }).pipe(
        Effect.catchAll((error) =>
          Effect.as(
            Effect.logInfo("signer: refused").pipe(
              Effect.annotateLogs({ decision: "refused", reason: error._tag === "SignerError" ? error.reason : error._tag, ...(error._tag === "PolicyViolation" ? { rule: error.rule, callIndex: error.callIndex ?? -1 } : {}) })
            ),
            { status: statusOf(error), body: encodeRefusal(error) }
          )
        ),
        Effect.flatMap(({ body, status }) => Effect.sync(() => answer(res, status, body)))
      )

    const server = yield* Effect.acquireRelease(
      Effect.async<http.Server, SignerError>((resume) => {
        const s = http.createServer((req, res) => void Runtime.runPromise(runtime)(handle(req, res)).catch(() => answer(res, 500, {})))
        s.once("error", (error) => resume(Effect.fail(new SignerError({ reason: "unreachable", detail: `cannot listen: ${error.message}` }))))
        s.listen(options.port ?? 0, host, () => resume(Effect.succeed(s)))
      }),
      (s) => Effect.async<void>((resume) => {
        s.closeAllConnections()
        s.close(() => resume(Effect.void))
      })
    )
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : options.port ?? 0
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`
    yield* Effect.logInfo("signer: listening").pipe(Effect.annotateLogs({ url }))
    return { url, hold }
  })

/**
 * Options from the environment for `serve`: `SIGNER_HOST`, `SIGNER_PORT`, `SIGNER_API_KEY` (a secret).
 *
 * @since 0.1.0
 * @category constructors
 */
export const optionsFromEnv = (env: Record<string, string | undefined> = process.env): ServeOptions => ({
  ...(env["SIGNER_HOST"] !== undefined ? { host: env["SIGNER_HOST"] } : {}),
  ...(env["SIGNER_PORT"] !== undefined ? { port: Number(env["SIGNER_PORT"]) } : {}),
  ...(env["SIGNER_API_KEY"] !== undefined ? { apiKey: Redacted.make(env["SIGNER_API_KEY"]) } : {})
})
