import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Logger, LogLevel, Redacted, Ref, TestClock, Tracer } from "effect"
import { Crypto, Devnet, Errors, Paymaster, Schemas, Sessions, StarknetRpc, Transactions } from "starknet-session-keys"
import {
  atRealisticTime,
  PIN,
  RECIPIENT,
  registeredSession,
  TestLayer,
  transfer,
  USDC,
  withBlocks
} from "./helpers/lifecycle.js"

describe("the lifecycle on the devnet", () => {
  it.effect("create, register, execute, read, revoke", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 2 })
      const before = yield* devnet.balanceOf(USDC, wallet.publicKey)

      const receipt = yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1000n)] }))
      expect(receipt.executionStatus).toBe("SUCCEEDED")
      expect(receipt.events.length).toBeGreaterThan(0)
      expect(yield* devnet.balanceOf(USDC, wallet.publicKey)).toBe(before - 1000n)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(1000n)

      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(data).toEqual({
        isActive: true,
        validUntil: session.validUntil,
        maxCalls: 2,
        callsUsed: 1,
        remainingCalls: 1,
        allowedEntrypointsLen: 0,
        allowedEntrypoints: []
      })

      yield* withBlocks(Sessions.revokeAndWait({ encryptKey: PIN, wallet, sessionPublicKey: session.publicKey }))
      const after = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(after).toMatchObject({ isActive: false, validUntil: 0, maxCalls: 0, callsUsed: 0, allowedEntrypointsLen: 0 })
      const error = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
      expect(error).toBeInstanceOf(Errors.NotRegistered)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a multicall is one transaction and one call of the session", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      yield* withBlocks(Sessions.executeAndWait({
        encryptKey: PIN,
        wallet,
        session,
        calls: [transfer(10n), transfer(20n, "0x2222"), transfer(30n, "0x3333")]
      }))
      expect(yield* devnet.balanceOf(USDC, "0x2222")).toBe(20n)
      expect(yield* devnet.balanceOf(USDC, "0x3333")).toBe(30n)
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(data.callsUsed).toBe(1)
    }).pipe(Effect.provide(TestLayer())))
})

describe("typed errors where the chain would refuse: raised locally, nothing sent", () => {
  it.effect("MaxCallsExceeded on the (maxCalls+1)-th execute", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ maxCalls: 3 })
      for (let i = 0; i < 3; i++) {
        yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
      }
      const error = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
      expect(error).toBeInstanceOf(Errors.MaxCallsExceeded)
      expect(error).toMatchObject({ maxCalls: 3, callsUsed: 3, sessionPublicKey: session.publicKey })
    }).pipe(Effect.provide(TestLayer())))

  it.effect("Expired once block time passes valid_until (TestClock)", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ durationSeconds: 300 })
      yield* TestClock.adjust("200 seconds")
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
      yield* TestClock.adjust("120 seconds")
      const error = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
      expect(error).toBeInstanceOf(Errors.Expired)
      expect((error as Errors.Expired).validUntil).toBe(session.validUntil)
      expect((error as Errors.Expired).now).toBeGreaterThan(session.validUntil)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("NotRegistered for a key never added", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN })
      const session = yield* Sessions.createSessionKey({ encryptKey: PIN })
      const error = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
      expect(error).toBeInstanceOf(Errors.NotRegistered)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("ForbiddenCall: blocklisted entrypoints, and self-calls without an allow-list", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession()
      const upgrade = yield* Effect.flip(Sessions.execute({
        encryptKey: PIN,
        wallet,
        session,
        calls: [{ contractAddress: USDC, entrypoint: "upgrade", calldata: ["0x1"] }]
      }))
      expect(upgrade).toBeInstanceOf(Errors.ForbiddenCall)
      expect(upgrade).toMatchObject({ rule: "blocklist", entrypoint: "upgrade" })
      const selfCall = yield* Effect.flip(Sessions.execute({
        encryptKey: PIN,
        wallet,
        session,
        calls: [{ contractAddress: wallet.publicKey, entrypoint: "get_session_data", calldata: [session.publicKey] }]
      }))
      expect(selfCall).toBeInstanceOf(Errors.ForbiddenCall)
      expect(selfCall).toMatchObject({ rule: "self-call" })
    }).pipe(Effect.provide(TestLayer())))

  it.effect("EntrypointNotAllowed outside the allow-list", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ allowedEntrypoints: ["transfer"] })
      const error = yield* Effect.flip(Sessions.execute({
        encryptKey: PIN,
        wallet,
        session,
        calls: [transfer(1n), { contractAddress: USDC, entrypoint: "approve", calldata: [RECIPIENT, "0x1", "0x0"] }]
      }))
      expect(error).toBeInstanceOf(Errors.EntrypointNotAllowed)
      expect(error).toMatchObject({ entrypoint: "approve" })
    }).pipe(Effect.provide(TestLayer())))

  it.effect("InvalidPin for the session key and for the wallet's legacy-encrypted owner key", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession()
      const wrongSession = yield* Effect.flip(Sessions.execute({ encryptKey: "000000", wallet, session, calls: [transfer(1n)] }))
      expect(wrongSession).toBeInstanceOf(Errors.InvalidPin)
      expect(wallet.encryptedPrivateKey.startsWith("U2FsdGVkX1")).toBe(true)
      const wrongOwner = yield* Effect.flip(Sessions.revoke({ encryptKey: "000000", wallet, sessionPublicKey: session.publicKey }))
      expect(wrongOwner).toBeInstanceOf(Errors.InvalidPin)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("register checks the config before anything is signed", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN })
      const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 600 })
      const base = { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1 }
      const past = yield* Effect.flip(Sessions.register({ encryptKey: PIN, wallet, sessionConfig: { ...base, validUntil: 1000 } }))
      expect(past).toMatchObject({ _tag: "InvalidInput", path: "sessionConfig.validUntil" })
      const beyond = yield* Effect.flip(
        Sessions.register({ encryptKey: PIN, wallet, session, sessionConfig: { ...base, validUntil: session.validUntil + 1 } })
      )
      expect(beyond).toMatchObject({ _tag: "InvalidInput", path: "sessionConfig.validUntil" })
      // A key created in this process (with its ledger) is known without being passed.
      const beyondUnpassed = yield* Effect.flip(
        Sessions.register({ encryptKey: PIN, wallet, sessionConfig: { ...base, validUntil: session.validUntil + 86_400 } })
      )
      expect(beyondUnpassed).toMatchObject({ _tag: "InvalidInput", path: "sessionConfig.validUntil" })
      const zero = yield* Effect.flip(Sessions.register({ encryptKey: PIN, wallet, sessionConfig: { ...base, maxCalls: 0 } }))
      expect(zero).toMatchObject({ _tag: "InvalidInput", path: "sessionConfig.maxCalls" })
      const badSelector = yield* Effect.flip(
        Sessions.register({ encryptKey: PIN, wallet, sessionConfig: { ...base, allowedEntrypoints: ["transfer", "not a selector"] } })
      )
      expect(badSelector).toMatchObject({ _tag: "InvalidInput", path: "sessionConfig.allowedEntrypoints.1" })
      expect((yield* devnet.transactions).length).toBe(0)
    }).pipe(Effect.provide(TestLayer())))
})

describe("the chain refuses anyway", () => {
  it.effect("two processes race for the last call: the loser's revert maps to MaxCallsExceeded", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      // Both estimates miss the other's transaction: both are sent, one reverts on chain.
      yield* devnet.setFaults({ staleEstimateNext: 2 })
      // Two ledgers: two processes that cannot see each other's reservations.
      const inProcess = (ledger: Layer.Layer<Sessions.Ledger>) =>
        Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }).pipe(Effect.provide(ledger))
      const results = yield* withBlocks(
        Effect.all([Effect.either(inProcess(Sessions.layer)), Effect.either(inProcess(Sessions.layer))], { concurrency: 2 })
      )
      const failures = results.filter(Either.isLeft).map((e) => e.left)
      expect(results.filter(Either.isRight)).toHaveLength(1)
      expect(failures).toHaveLength(1)
      expect(failures[0]).toBeInstanceOf(Errors.MaxCallsExceeded)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("an allow-list only the chain knows (registered by another process): EntrypointNotAllowed naming the one entrypoint", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ maxCalls: 5, allowedEntrypoints: ["transfer"] })
      const approve = { contractAddress: USDC, entrypoint: "approve", calldata: [RECIPIENT, "0x1", "0x0"] }
      // A fresh ledger: this process never saw the registration, so only the chain refuses.
      const elsewhere = <A, E>(effect: Effect.Effect<A, E, Sessions.Ledger | StarknetRpc.StarknetRpc | Crypto.Crypto | Paymaster.Paymaster>) =>
        effect.pipe(Effect.provide(Sessions.layer))
      const one = yield* Effect.flip(elsewhere(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [approve, approve] })))
      expect(one).toBeInstanceOf(Errors.EntrypointNotAllowed)
      expect(one).toMatchObject({ entrypoint: "approve", selector: Schemas.selectorOf("approve") })
      // With two different entrypoints too: the account's allow-list views name the one refused, before signing.
      const two = yield* Effect.flip(elsewhere(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n), approve] })))
      expect(two).toBeInstanceOf(Errors.EntrypointNotAllowed)
      expect(two).toMatchObject({ entrypoint: "approve" })
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a reverted execute followed with a separate wait (the guide's flow) gives its reserved call back", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      // Held past its validity window, the execute reverts at inclusion and the chain does not count it.
      yield* devnet.setFaults({ holdBlocks: 3 })
      // (The window is counted from the latest closed block, whose timestamp is when it opened: a block time or more
      // behind the clock, so 5 s and not less.)
      const txHash = yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }, { validity: "5 seconds" })
      yield* devnet.clearFaults
      const reverted = yield* withBlocks(Effect.flip(Transactions.wait(txHash)))
      expect(reverted).toMatchObject({ _tag: "Reverted", revertReason: "SRC9: now >= execute_before" })
      // The one call is free again, here as on the chain.
      const receipt = yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] }))
      expect(receipt.executionStatus).toBe("SUCCEEDED")
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(2n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a separate wait (Sessions.wait, as the Promise client's waitForTransaction) explains a refusal at inclusion too", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      // Two processes race for the last call; both pass their checks (made together, before either is sent: checks
      // read the pre-confirmed state, so one made after the other's submission refuses at once) and both are sent
      // (each lands between the paymaster's estimate of the other and its send).
      yield* devnet.setFaults({ staleEstimateNext: 2 })
      const send = Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] })
      // Each process has its own ledger, built once.
      const a = yield* Layer.build(Sessions.layer)
      const b = yield* Layer.build(Sessions.layer)
      const [first, second] = yield* Effect.all([send.pipe(Effect.provide(a)), send.pipe(Effect.provide(b))], { concurrency: 2 })
      const outcomes = yield* withBlocks(Effect.all([
        Effect.either(Sessions.wait(first).pipe(Effect.provide(a))),
        Effect.either(Sessions.wait(second).pipe(Effect.provide(b)))
      ]))
      expect(outcomes.filter(Either.isRight)).toHaveLength(1)
      const loser = outcomes.find(Either.isLeft)!.left
      expect(loser).toBeInstanceOf(Errors.MaxCallsExceeded)
      // A hash this process did not send keeps the bare Reverted.
      const other = yield* withBlocks(Effect.flip(Sessions.wait(Either.isLeft(outcomes[0]!) ? first : second).pipe(Effect.provide(Sessions.layer))))
      expect(other._tag).toBe("Reverted")
    }).pipe(Effect.scoped, Effect.provide(TestLayer())))
})

describe("concurrency within one process", () => {
  it.effect("concurrent executes never exceed the session's remaining calls", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session, devnet } = yield* registeredSession({ maxCalls: 3 })
      const results = yield* withBlocks(
        Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => Effect.either(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(BigInt(i + 1))] })),
          { concurrency: "unbounded" }
        )
      )
      expect(results.filter(Either.isRight)).toHaveLength(3)
      const refused = results.filter(Either.isLeft).map((e) => e.left)
      expect(refused).toHaveLength(5)
      for (const error of refused) expect(error).toBeInstanceOf(Errors.MaxCallsExceeded)
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(data.callsUsed).toBe(3)
      expect(yield* devnet.balanceOf(USDC, wallet.publicKey)).toBe(10_000_000n - results.reduce(
        (sum, r, i) => (Either.isRight(r) ? sum + BigInt(i + 1) : sum),
        0n
      ))
    }).pipe(Effect.provide(TestLayer())))

  it.effect("withSession decrypts the session key once for a batch of executes", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const decryptions = yield* Ref.make(0)
      const { wallet, session } = yield* registeredSession({ maxCalls: 5 })
      const counting = Layer.effect(
        Crypto.Crypto,
        Effect.map(Crypto.Crypto, (crypto) => ({
          ...crypto,
          decryptPrivateKey: (...args: Parameters<typeof crypto.decryptPrivateKey>) =>
            Ref.update(decryptions, (n) => n + 1).pipe(Effect.zipRight(crypto.decryptPrivateKey(...args)))
        }))
      ).pipe(Layer.provide(Crypto.layer))
      const hashes = yield* withBlocks(
        Sessions.withSession({ encryptKey: PIN, wallet, session }, (s) =>
          Effect.forEach([1n, 2n, 3n, 4n], (amount) => s.execute([transfer(amount)]))).pipe(Effect.provide(counting))
      )
      expect(new Set(hashes).size).toBe(4)
      expect(yield* Ref.get(decryptions)).toBe(1)
    }).pipe(Effect.provide(TestLayer())))
})

describe("faults", () => {
  it.effect("typed data altered by the paymaster is refused before signing: TypedDataMismatch, nothing sent", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
      yield* devnet.setFaults({ alterTypedData: "calldata" })
      const error = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(5n)] }))
      expect(error).toBeInstanceOf(Errors.TypedDataMismatch)
      expect((error as Errors.TypedDataMismatch).field).toContain("Calldata")
      yield* devnet.clearFaults
      yield* withBlocks(Effect.void.pipe(Effect.delay("5 seconds")))
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(data.callsUsed).toBe(0)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(0n)
    }).pipe(Effect.provide(TestLayer())))

  const retried: ReadonlyArray<readonly [string, Devnet.Faults]> = [
    ["transient RPC and paymaster faults (503)", { failNext: 3 }],
    ["connections dropped before the submission is carried out", { dropNext: 2, faultMethods: ["paymaster_executeTransaction"] }]
  ]
  for (const [what, faults] of retried) {
    it.effect(`${what} are retried transparently; the transfer happens exactly once`, () =>
      Effect.gen(function*() {
        yield* atRealisticTime
        const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5 })
        const before = (yield* devnet.transactions).length
        yield* devnet.setFaults(faults)
        yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(7n)] }))
        expect((yield* devnet.transactions).length - before).toBe(1)
        expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(7n)
        const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
        expect(data.callsUsed).toBe(1)
      }).pipe(Effect.provide(TestLayer())))
  }

  it.effect("an answer lost after the submission went through: resolved from the chain, sent once, execute answers its hash", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 1 })
      const before = (yield* devnet.transactions).length
      yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"] })
      const txHash = yield* withBlocks(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(11n)] }))
      // Resolved as soon as it is pre-confirmed (its nonce used on the state the network executes on): the balance
      // is read once its block has closed.
      yield* withBlocks(Sessions.wait(txHash))
      const sent = (yield* devnet.transactions).slice(before)
      expect(sent).toHaveLength(1)
      expect(sent[0]!.hash).toBe(txHash)
      expect(sent[0]!.status.executionStatus).toBe("SUCCEEDED")
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(11n)
      // The call is spent in this process too.
      expect(yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))).toBeInstanceOf(Errors.MaxCallsExceeded)
    }).pipe(Effect.provide(TestLayer())))
})

describe("secrets", () => {
  it.effect("no PIN or private key appears in any log line, span attribute or error message", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ annotations, cause, message, spans }) => {
          lines.push(JSON.stringify(message) + String(cause) + JSON.stringify([...annotations]) + JSON.stringify([...spans]))
        })
      )
      const spanAttributes: Array<string> = []
      const native = yield* Effect.tracer
      const tracer = Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          const span = native.span(name, parent, context, links, startTime, kind, options)
          for (const [key, value] of Object.entries(options?.attributes ?? {})) spanAttributes.push(`${name} ${key}=${String(value)}`)
          const attribute = span.attribute.bind(span)
          return Object.assign(span, {
            attribute: (key: string, value: unknown) => {
              spanAttributes.push(`${name} ${key}=${String(value)}`)
              attribute(key, value)
            }
          })
        },
        context: (f, fiber) => native.context(f, fiber)
      })
      const program = Effect.gen(function*() {
        const { wallet, session } = yield* registeredSession({ maxCalls: 1 })
        yield* Effect.logInfo("registered", { wallet, session })
        yield* withBlocks(Sessions.executeAndWait({ encryptKey: Redacted.make(PIN), wallet, session, calls: [transfer(1n)] }))
        const errors = [
          yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] })),
          yield* Effect.flip(Sessions.execute({ encryptKey: "wrong-pin-123", wallet, session, calls: [transfer(1n)] })),
          yield* Effect.flip(Sessions.revoke({ encryptKey: "wrong-pin-123", wallet, sessionPublicKey: session.publicKey }))
        ]
        for (const error of errors) yield* Effect.logError("failed", error)
        // The keys themselves, to look for them in what was written.
        const crypto = yield* Crypto.Crypto
        const rpc = yield* StarknetRpc.StarknetRpc
        const [ownerPublicKey] = yield* rpc.call({ contractAddress: wallet.publicKey, entrypoint: "get_public_key", calldata: [] })
        const keys = yield* Effect.scoped(Effect.all([
          crypto.decryptPrivateKey(session.encryptedPrivateKey, Redacted.make(PIN), session.publicKey),
          crypto.decryptPrivateKey(wallet.encryptedPrivateKey, Redacted.make(PIN), ownerPublicKey!)
        ]).pipe(Effect.map((ks) => ks.map((k) => Buffer.from(Redacted.value(k)).toString("hex")))))
        return { errors, keys }
      })
      const { errors, keys } = yield* program.pipe(
        Effect.provide(capture),
        Logger.withMinimumLogLevel(LogLevel.All),
        Effect.withLogSpan("test"),
        Effect.withTracer(tracer)
      )
      const texts = [...lines, ...spanAttributes, ...errors.map((e) => `${e.message} ${String(e)} ${JSON.stringify(e)}`)]
      expect(lines.length).toBeGreaterThan(0)
      // Submissions are logged at debug level, annotated with what identifies them.
      const submitted = lines.filter((l) => l.includes("submitting a signed payload"))
      expect(submitted.length).toBeGreaterThan(0)
      for (const key of ["wallet", "nonce", "idempotencyKey", "attempt"]) expect(submitted[0]).toContain(`"${key}"`)
      expect(spanAttributes.some((a) => a.startsWith("Sessions.execute"))).toBe(true)
      expect(keys.map((k) => k.length)).toEqual([64, 64])
      const secrets = [PIN, "wrong-pin-123", ...keys, ...keys.map((k) => BigInt("0x" + k).toString(16)), ...keys.map((k) => BigInt("0x" + k).toString(10))]
      for (const text of texts) {
        for (const secret of secrets) expect(text).not.toContain(secret)
      }
    }).pipe(Effect.provide(TestLayer())))
})
