/**
 * Starknet's Poseidon permutation in WebAssembly, the module written out here instruction by instruction (no
 * binary, no build step): field elements as nine 29-bit limbs held in 64-bit integers, Montgomery multiplication
 * (R = 2^261) and the same specialised rounds as `poseidon.ts` (the S-box x^3, the matrix as additions, one
 * constant per partial round, with the constants given by that module).
 *
 * 29-bit limbs leave 6 bits of room in a 64-bit integer: a row of products is added to the accumulators without
 * carrying, and carries are propagated once per multiplication. The prime p = 2^251 + 17·2^192 + 1 is 1 modulo
 * 2^192, so -p⁻¹ mod 2^29 is -1 and each reduction step adds m·p with m = -t₀ mod 2^29: m to limb 0, 17·2^18·m to
 * limb 6 and 2^19·m to limb 8, not a row of multiplications. Values are kept reduced only as far as the next step
 * needs: a product is below 1.1p, the matrix's output below 4p (`mixBody`), a sum below 4.1p (one conditional
 * subtraction), and each of these is a valid input to the multiplication (below 5p); results are reduced to
 * [0, p) as they are read (`canonBody`). In the partial rounds, which cube s2 alone, s0 and s1 stay in locals with
 * their limbs normalised only every fourth round (`partialsBody`).
 *
 * Memory (one 64 KiB page, the module's own): the constants and the sponge's three elements (Montgomery form, 72
 * bytes each), and an input area that JavaScript fills with plain felts (little-endian, 32 bytes each) for
 * `absorb`; results are read back as plain felts. The module's work is checked against @scure/starknet by
 * `poseidon.ts` before its first use.
 */

const P = 2n ** 251n + 17n * 2n ** 192n + 1n
const R = 2n ** 261n
const mod = (a: bigint) => ((a % P) + P) % P

/** Bits per limb, limbs per element, bytes per element. */
const BITS = 29
const LIMBS = 9
const E = 8 * LIMBS
// Memory layout (byte offsets).
const R2_AT = 0 // R^2 mod p
const ONE_AT = E // 1
const ZERO_AT = 2 * E // 0, for the rounds that add no constant to an element
const S0 = 3 * E
const S1 = 4 * E
const S2 = 5 * E
const T = 6 * E
const FULL_AT = 8 * E // 8 rounds × 3 constants
const PARTIAL_AT = FULL_AT + 8 * 3 * E // 83 constants, to 8280
const OUT_AT = 8320 // 3 plain felts
const IN_AT = 8448
/** Felts `absorb` takes in one call (the input area, to the end of the page). */
export const CHUNK = (65536 - IN_AT) / 32

// ---- a few opcodes, and their operands' encodings ----
const uleb = (n: number): Array<number> => {
  const out: Array<number> = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}
const sleb = (v: bigint): Array<number> => {
  const out: Array<number> = []
  for (;;) {
    const byte = Number(v & 0x7fn)
    v >>= 7n
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)
    out.push(done ? byte : byte | 0x80)
    if (done) return out
  }
}
type Code = Array<number>
const I32 = 0x7f
const I64 = 0x7e
const get = (i: number): Code => [0x20, ...uleb(i)]
const set = (i: number): Code => [0x21, ...uleb(i)]
const i32 = (v: number): Code => [0x41, ...sleb(BigInt(v))]
const i64 = (v: bigint): Code => [0x42, ...sleb(v)]
const op = {
  i32Add: 0x6a,
  i32GeU: 0x4f,
  i32Wrap: 0xa7,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64And: 0x83,
  i64Shl: 0x86,
  i64ShrU: 0x88,
  i64ShrS: 0x87,
  i64Or: 0x84,
  i64GtS: 0x55,
  select: 0x1b,
  call: 0x10,
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  void: 0x40
} as const
/** `i64.load` of limb `j` of the element at the pointer in local `ptr`. */
const loadLimb = (ptr: number, j: number): Code => [...get(ptr), 0x29, 3, ...uleb(8 * j)]
/** `i64.store` of `value` to limb `j` of the element at the pointer in local `ptr`. */
const storeLimb = (ptr: number, j: number, value: Code): Code => [...get(ptr), ...value, 0x37, 3, ...uleb(8 * j)]
/** `i64.load` of limb `j` of the element at the fixed address `at`. */
const loadAt = (at: number, j: number): Code => [...i32(at), 0x29, 3, ...uleb(8 * j)]
/** `i64.store` of `value` to limb `j` of the element at the fixed address `at`. */
const storeAt = (at: number) => (j: number, value: Code): Code => [...i32(at), ...value, 0x37, 3, ...uleb(8 * j)]
const MASK = i64((1n << BigInt(BITS)) - 1n)
/** `x = value; low = x & M; carry = x >> 29` */
const split = (value: Code, x: number, low: number, carry: number): Code => [
  ...value,
  0x22,
  ...uleb(x), // local.tee x
  ...MASK,
  op.i64And,
  ...set(low),
  ...get(x),
  ...i64(BigInt(BITS)),
  op.i64ShrU,
  ...set(carry)
]
const add64 = (...terms: Array<Code>): Code => terms.flatMap((t, i) => (i === 0 ? t : [...t, op.i64Add]))
/** `local += value` */
const addTo = (local: number, value: Code): Code => [...get(local), ...value, op.i64Add, ...set(local)]

/** p's limbs: 1, then 17·2^18 at limb 6 (2^192) and 2^19 at limb 8 (2^251). */
const P_LIMBS = [1n, 0n, 0n, 0n, 0n, 0n, 17n << 18n, 0n, 1n << 19n]

/**
 * `t - p` limb by limb into `u` with `borrow`, then to `d` whichever of t and t - p is in [0, p) when t < 2p (and
 * t - p otherwise). `t`, `u` are the first local of nine; `x` and `borrow` are scratch locals.
 */
const reduceInto = (d: number, t: number, u: number, x: number, borrow: number): Code => {
  const code: Code = []
  for (let j = 0; j < LIMBS; j++) {
    const value = [...get(t + j)]
    if (P_LIMBS[j] !== 0n) value.push(...i64(P_LIMBS[j]!), op.i64Sub)
    if (j > 0) value.push(...get(borrow), op.i64Sub)
    code.push(...value, 0x22, ...uleb(x), ...MASK, op.i64And, ...set(u + j), ...get(x), ...i64(63n), op.i64ShrU, ...set(borrow))
  }
  // borrow = 1: t < p, keep t.
  for (let j = 0; j < LIMBS; j++) code.push(...storeLimb(d, j, [...get(t + j), ...get(u + j), ...get(borrow), op.i32Wrap, op.select]))
  return code
}

/**
 * mul(d, a, b): d = a·b·R⁻¹ mod p, for a, b below 5p with limbs below 2^29; d is below 1.1p. Row by row, b's limb
 * times all of a is added to the accumulators, then the lowest of them is reduced: m = -acc mod 2^29 makes it a
 * multiple of 2^29, its carry moves up and m·p's other two limbs are added. Every accumulator stays below 2^62
 * (nine products below 2^58 each, and the reduction's terms). Locals: a 3-11, acc 12-29, b_i 30, m 31, x 32, C 33.
 */
const mulBody = (): { locals: number; code: Code } => {
  const [d, a, b] = [0, 1, 2]
  const A = 3, ACC = 12, BI = 30, M = 31, X = 32, C = 33
  const code: Code = []
  for (let j = 0; j < LIMBS; j++) code.push(...loadLimb(a, j), ...set(A + j))
  for (let i = 0; i < LIMBS; i++) {
    code.push(...loadLimb(b, i), ...set(BI))
    for (let j = 0; j < LIMBS; j++) code.push(...addTo(ACC + i + j, [...get(A + j), ...get(BI), op.i64Mul]))
    code.push(...reduceStep(ACC + i, M))
  }
  code.push(...quotient(d, ACC, X, C))
  return { locals: 31, code }
}

/**
 * One step of Montgomery's reduction at the accumulator `at`: m = -acc mod 2^29 makes it a multiple of 2^29, its
 * carry moves up one limb, and m·p's other two limbs are added (17·2^18·m six limbs up, 2^19·m eight limbs up).
 */
const reduceStep = (at: number, m: number): Code => [
  ...i64(0n), ...get(at), op.i64Sub, ...MASK, op.i64And, ...set(m),
  ...addTo(at + 1, [...get(at), ...get(m), op.i64Add, ...i64(BigInt(BITS)), op.i64ShrU]),
  ...addTo(at + 6, [...get(m), ...i64(P_LIMBS[6]!), op.i64Mul]),
  ...addTo(at + 8, [...get(m), ...i64(19n), op.i64Shl])
]

/** After nine steps, the quotient in accumulators 9 to 16 and the last carry (its top limb), normalised, to d. */
const quotient = (d: number, acc: number, x: number, carry: number): Code => {
  const code: Code = []
  for (let k = 0; k < LIMBS - 1; k++) {
    const limb = acc + LIMBS + k
    code.push(...split(k === 0 ? get(limb) : add64(get(limb), get(carry)), x, limb, carry), ...storeLimb(d, k, get(limb)))
  }
  code.push(...storeLimb(d, LIMBS - 1, get(carry)))
  return code
}

/**
 * sqr(d, a): d = a²·R⁻¹ mod p, as `mul(d, a, a)` gives it, with each product of two different limbs computed once
 * and doubled (45 multiplications instead of 81); the reduction follows the whole product. Every accumulator stays
 * below 2^62 (five products below 2^59 at most). Locals: a 2-10, 2a 11-18, acc 19-36, m 37, x 38, C 39.
 */
const sqrBody = (): { locals: number; code: Code } => {
  const d = 0, a = 1
  const A = 2, A2 = 11, ACC = 19, M = 37, X = 38, C = 39
  const code: Code = []
  for (let j = 0; j < LIMBS; j++) code.push(...loadLimb(a, j), ...set(A + j))
  for (let j = 0; j < LIMBS - 1; j++) code.push(...get(A + j), ...i64(1n), op.i64Shl, ...set(A2 + j))
  for (let i = 0; i < LIMBS; i++) {
    code.push(...addTo(ACC + 2 * i, [...get(A + i), ...get(A + i), op.i64Mul]))
    for (let j = i + 1; j < LIMBS; j++) code.push(...addTo(ACC + i + j, [...get(A2 + i), ...get(A + j), op.i64Mul]))
  }
  for (let i = 0; i < LIMBS; i++) code.push(...reduceStep(ACC + i, M))
  code.push(...quotient(d, ACC, X, C))
  return { locals: 38, code }
}

/**
 * add(d, a, b): a + b, less p when that is at least p (a sum below 5.1p gives below 4.1p). Locals: t 3-11, u 12-20,
 * x 21, C 22, borrow 23.
 */
const addBody = (): { locals: number; code: Code } => {
  const [d, a, b] = [0, 1, 2]
  const Tl = 3, Ul = 12, X = 21, C = 22, BORROW = 23
  const code: Code = []
  for (let j = 0; j < LIMBS; j++) {
    const sum = add64(loadLimb(a, j), loadLimb(b, j))
    code.push(...split(j === 0 ? sum : add64(sum, get(C)), X, Tl + j, C))
  }
  code.push(...reduceInto(d, Tl, Ul, X, BORROW))
  return { locals: 21, code }
}

/**
 * For a value in nine signed, unnormalised limbs from local `first` whose part below the top limb is below 2^251 in
 * size: q = max(⌊top / 2^19⌋ - 2, 0) into local `q`, then the value less q·p, in place (p's limbs: 1 at 0, 17·2^18 at
 * 6, 2^19 at 8), the limbs left unnormalised. q is ⌊w / 2^251⌋ give or take one, so what is left is below 3p + 2^251.
 */
const reduceValue = (first: number, q: number): Code => [
  ...get(first + 8), ...i64(19n), op.i64ShrS, ...i64(2n), op.i64Sub, ...set(q),
  ...get(q), ...i64(0n), ...get(q), ...i64(0n), op.i64GtS, op.select, ...set(q),
  ...get(first), ...get(q), op.i64Sub, ...set(first),
  ...get(first + 6), ...get(q), ...i64(P_LIMBS[6]!), op.i64Mul, op.i64Sub, ...set(first + 6),
  ...get(first + 8), ...get(q), ...i64(19n), op.i64Shl, op.i64Sub, ...set(first + 8)
]

/** The carry pass over nine signed limbs from local `first` (shifting arithmetically), each limb to `out(j, value)`. */
const normalise = (first: number, x: number, carry: number, out: (j: number, value: Code) => Code): Code => {
  const code: Code = []
  for (let j = 0; j < LIMBS; j++) {
    code.push(...out(j, [...get(first + j), ...(j > 0 ? [...get(carry), op.i64Add] : []), 0x22, ...uleb(x), ...MASK, op.i64And]))
    code.push(...get(x), ...i64(BigInt(BITS)), op.i64ShrS, ...set(carry))
  }
  return code
}

/**
 * mix(k0, k1, k2): the matrix on S0, S1, S2, then the next round's constants added, in one pass per element:
 * s0' = 3s0 + s1 + s2 + k0, s1' = s0 - s1 + s2 + k1 (+ 4p), s2' = s0 + s1 - 2s2 + k2 (+ 8p), each limb summed
 * without carries (signed, below 2^33 in size). For inputs below 4p each sum w is in [0, 21p); q, read from its top
 * limb alone, is ⌊w / 2^251⌋ give or take one, so w - (q - 2)·p (or w itself when q ≤ 2) lies in [0, 4p), and one
 * carry pass, shifting arithmetically, normalises it. Outputs are below 4p again. Locals: s 3-29, w 30-38, x 39,
 * C 40, q 41.
 */
const mixBody = (): { locals: number; code: Code } => {
  const K = [0, 1, 2]
  const S = 3, W = 30, X = 39, C = 40, Q = 41
  const code: Code = []
  for (let i = 0; i < 3; i++) for (let j = 0; j < LIMBS; j++) code.push(...loadAt(S0 + E * i, j), ...set(S + LIMBS * i + j))
  const s = (i: number, j: number) => get(S + LIMBS * i + j)
  // Coefficients of s0, s1, s2, and the multiple of p that keeps each sum non-negative.
  const rows: ReadonlyArray<readonly [readonly [number, number, number], bigint]> = [[[3, 1, 1], 0n], [[1, -1, 1], 4n], [[1, 1, -2], 8n]]
  rows.forEach(([coefficients, multiple], out) => {
    for (let j = 0; j < LIMBS; j++) {
      const value: Code = [...loadLimb(K[out]!, j)]
      coefficients.forEach((k, i) => {
        const term = Math.abs(k) === 1 ? s(i, j) : [...s(i, j), ...i64(BigInt(Math.abs(k))), op.i64Mul]
        value.push(...term, k > 0 ? op.i64Add : op.i64Sub)
      })
      const extra = multiple * P_LIMBS[j]!
      if (extra !== 0n) value.push(...i64(extra), op.i64Add)
      code.push(...value, ...set(W + j))
    }
    code.push(...reduceValue(W, Q), ...normalise(W, X, C, storeAt(S0 + E * out)))
  })
  return { locals: 39, code }
}

/** canon(d): d mod p in place, for d below 2p. Locals: t 1-9, u 10-18, x 19, borrow 20. */
const canonBody = (): { locals: number; code: Code } => {
  const d = 0, Tl = 1, Ul = 10, X = 19, BORROW = 20
  const code: Code = []
  for (let j = 0; j < LIMBS; j++) code.push(...loadLimb(d, j), ...set(Tl + j))
  code.push(...reduceInto(d, Tl, Ul, X, BORROW))
  return { locals: 20, code }
}

/**
 * unpack(d, src): the plain felt at src (four little-endian 64-bit words, below 2^252) as nine limbs at d.
 * Limb k holds bits 29k to 29k + 28: limbs 2, 4 and 6 straddle two words. Locals: w 2-5.
 */
const unpackBody = (): { locals: number; code: Code } => {
  const d = 0, src = 1, Wd = 2
  const code: Code = []
  for (let w = 0; w < 4; w++) code.push(...loadLimb(src, w), ...set(Wd + w))
  for (let k = 0; k < LIMBS; k++) {
    const bit = BITS * k, w = Math.floor(bit / 64), shift = bit % 64
    const value: Code = [...get(Wd + w), ...i64(BigInt(shift)), op.i64ShrU]
    if (shift + BITS > 64 && w < 3) value.push(...get(Wd + w + 1), ...i64(BigInt(64 - shift)), op.i64Shl, op.i64Or)
    if (k < LIMBS - 1) value.push(...MASK, op.i64And)
    code.push(...storeLimb(d, k, value))
  }
  return { locals: 4, code }
}

/** pack(dst, s): the nine limbs at s (each below 2^29, the felt below 2^256) as four little-endian words at dst. */
const packBody = (): { locals: number; code: Code } => {
  const dst = 0, src = 1
  const code: Code = []
  for (let w = 0; w < 4; w++) {
    const terms: Array<Code> = []
    for (let k = 0; k < LIMBS; k++) {
      const bit = BITS * k - 64 * w
      if (bit <= -BITS || bit >= 64) continue
      terms.push([...loadLimb(src, k), ...(bit < 0 ? [...i64(BigInt(-bit)), op.i64ShrU] : bit > 0 ? [...i64(BigInt(bit)), op.i64Shl] : [])])
    }
    code.push(...storeLimb(dst, w, terms.flatMap((t, i) => (i === 0 ? t : [...t, op.i64Or]))))
  }
  return { locals: 0, code }
}

/**
 * partials(): the partial rounds but the last (82 of 83), with s0 and s1 held in locals. Each round cubes s2 (in
 * memory, where the multiplication reads it), then applies the matrix with the round's constant. Only s2 is
 * normalised every round (the multiplication needs its limbs below 2^29): s0 and s1 are reduced below 4p as values
 * (q read from the top limb, as in `mixBody`) but their limbs are left unnormalised, signed, and grow about five
 * times a round; every fourth round they are normalised, which keeps each limb below 2^40, the part below the top
 * limb below 2^243 in size, and so q within one of ⌊w / 2^251⌋. Locals: K (i32) 0, N (i32) 1; s0, s1 2-19, their
 * next values 20-37, the cube 38-46, w 47-55, x 56, C 57, q 58.
 */
const partialsBody = (): { locals: readonly [number, number]; code: Code } => {
  const K = 0, N = 1, A = 2, B = 20, CUBE = 38, W = 47, X = 56, C = 57, Q = 58
  const code: Code = []
  const inPlace = (first: number) => normalise(first, X, C, (j, value) => [...value, ...set(first + j)])
  /** One round from s0, s1 in locals `from` to `to`, the constant at K, which moves to the next one. */
  const round = (from: number, to: number): Code => {
    const [f0, f1, t0, t1] = [from, from + LIMBS, to, to + LIMBS]
    const r: Code = [...call2(SQR, c(T), c(S2)), ...call3(MUL, c(S2), c(T), c(S2))]
    for (let j = 0; j < LIMBS; j++) r.push(...loadAt(S2, j), ...set(CUBE + j))
    // s2' = s0 + s1 - 2·s2³ + k (+ 8p), normalised into memory.
    for (let j = 0; j < LIMBS; j++) {
      r.push(...loadLimb(K, j), ...get(f0 + j), op.i64Add, ...get(f1 + j), op.i64Add, ...get(CUBE + j), ...i64(2n), op.i64Mul, op.i64Sub)
      if (P_LIMBS[j] !== 0n) r.push(...i64(8n * P_LIMBS[j]!), op.i64Add)
      r.push(...set(W + j))
    }
    r.push(...reduceValue(W, Q), ...normalise(W, X, C, storeAt(S2)))
    // s0' = 3s0 + s1 + s2³, s1' = s0 - s1 + s2³ (+ 4p): reduced as values, limbs left unnormalised.
    for (let j = 0; j < LIMBS; j++) {
      r.push(...get(f0 + j), ...i64(3n), op.i64Mul, ...get(f1 + j), op.i64Add, ...get(CUBE + j), op.i64Add, ...set(t0 + j))
      r.push(...get(f0 + j), ...get(f1 + j), op.i64Sub, ...get(CUBE + j), op.i64Add)
      if (P_LIMBS[j] !== 0n) r.push(...i64(4n * P_LIMBS[j]!), op.i64Add)
      r.push(...set(t1 + j))
    }
    r.push(...reduceValue(t0, Q), ...reduceValue(t1, Q))
    r.push(...get(K), ...i32(E), op.i32Add, ...set(K))
    return r
  }
  for (let j = 0; j < LIMBS; j++) code.push(...loadAt(S0, j), ...set(A + j), ...loadAt(S1, j), ...set(A + LIMBS + j))
  code.push(...i32(PARTIAL_AT + E), ...set(K), ...i32(20), ...set(N))
  // 20 times four rounds, then two: the 82 rounds.
  code.push(op.loop, op.void)
  code.push(...round(A, B), ...round(B, A), ...round(A, B), ...round(B, A), ...inPlace(A), ...inPlace(A + LIMBS))
  code.push(...get(N), ...i32(1), 0x6b /* i32.sub */, 0x22, ...uleb(N), op.brIf, 0, op.end)
  code.push(...round(A, B), ...round(B, A))
  code.push(...normalise(A, X, C, storeAt(S0)), ...normalise(A + LIMBS, X, C, storeAt(S1)))
  return { locals: [2, 57], code }
}

// Function indices.
const MUL = 0, ADD = 1, PERMUTE = 2, MIX = 6, CANON = 7, UNPACK = 8, PACK = 9, SQR = 10, PARTIALS = 11
const call3 = (fn: number, d: Code, a: Code, b: Code): Code => [...d, ...a, ...b, op.call, fn]
const call2 = (fn: number, d: Code, a: Code): Code => [...d, ...a, op.call, fn]
const c = (n: number) => i32(n)

const cube = (s: Code): Code => [...call2(SQR, c(T), s), ...call3(MUL, s, c(T), s)]
const fullAt = (r: number) => [FULL_AT + 3 * E * r, FULL_AT + 3 * E * r + E, FULL_AT + 3 * E * r + 2 * E] as const
const mix = (k: readonly [number, number, number]): Code => [...c(k[0]), ...c(k[1]), ...c(k[2]), op.call, MIX]
/** A full round whose constants are already added; `next` are those of the round after it. */
const fullRound = (next: readonly [number, number, number]): Code => [...cube(c(S0)), ...cube(c(S1)), ...cube(c(S2)), ...mix(next)]

/** permute(): the sponge's state, in place. */
const permuteBody = (): { locals: number; code: Code; params: 0 } => {
  const code: Code = []
  const first = fullAt(0)
  code.push(...call3(ADD, c(S0), c(S0), c(first[0])), ...call3(ADD, c(S1), c(S1), c(first[1])), ...call3(ADD, c(S2), c(S2), c(first[2])))
  for (let r = 0; r < 3; r++) code.push(...fullRound(fullAt(r + 1)))
  code.push(...fullRound([ZERO_AT, ZERO_AT, PARTIAL_AT]))
  // Partial rounds: the S-box of the last element, then the matrix with the next round's constant (the first full
  // round's after the last).
  code.push(op.call, PARTIALS)
  code.push(...cube(c(S2)), ...mix(fullAt(4)))
  for (let r = 4; r < 7; r++) code.push(...fullRound(fullAt(r + 1)))
  code.push(...fullRound([ZERO_AT, ZERO_AT, ZERO_AT]))
  return { locals: 0, code, params: 0 }
}

/** The plain felt at the pointer `from` into Montgomery form at T. */
const intoT = (from: Code): Code => [...call2(UNPACK, c(T), from), ...call3(MUL, c(T), c(T), c(R2_AT))]

/** absorb(n): n (even) plain felts from the input area, two at a time: into S0 and S1, then the permutation. */
const absorbBody = (): Code => {
  const N = 0, I = 1, END = 2
  return [
    ...i32(IN_AT), ...set(I),
    ...get(N), ...i32(32), 0x6c /* i32.mul */, ...i32(IN_AT), op.i32Add, ...set(END),
    op.block, op.void, op.loop, op.void,
    ...get(I), ...get(END), op.i32GeU, op.brIf, 1,
    ...intoT(get(I)),
    ...call3(ADD, c(S0), c(S0), c(T)),
    ...intoT([...get(I), ...i32(32), op.i32Add]),
    ...call3(ADD, c(S1), c(S1), c(T)),
    op.call, PERMUTE,
    ...get(I), ...i32(64), op.i32Add, ...set(I),
    op.br, 0, op.end, op.end
  ]
}
/** load(): the state from the first three felts of the input area. store(): the state to the output area. */
const loadBody = (): Code =>
  [0, 1, 2].flatMap((k) => [...call2(UNPACK, c(T), c(IN_AT + 32 * k)), ...call3(MUL, c(S0 + E * k), c(T), c(R2_AT))])
const storeBody = (): Code =>
  [0, 1, 2].flatMap((k) => [...call3(MUL, c(T), c(S0 + E * k), c(ONE_AT)), ...c(T), op.call, CANON, ...call2(PACK, c(OUT_AT + 32 * k), c(T))])

const section = (id: number, body: Code): Code => [id, ...uleb(body.length), ...body]
const vec = (items: Array<Code>): Code => [...uleb(items.length), ...items.flat()]
const name = (s: string): Code => vec([...s].map((ch) => [ch.charCodeAt(0)]))
const fnCode = (locals: Array<[number, number]>, body: Code): Code => {
  const f = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...body, op.end]
  return [...uleb(f.length), ...f]
}

/** The module's bytes. */
export const moduleBytes = (): Uint8Array => {
  const mul = mulBody(), add = addBody(), perm = permuteBody(), mixer = mixBody(), canon = canonBody(), unpack = unpackBody(),
    pack = packBody(), sqr = sqrBody(), partials = partialsBody()
  const types = section(1, vec([
    [0x60, ...vec([[I32], [I32], [I32]]), ...vec([])], // (d, a, b) -> ()
    [0x60, ...vec([]), ...vec([])], // () -> ()
    [0x60, ...vec([[I32]]), ...vec([])], // (n) -> ()
    [0x60, ...vec([[I32], [I32]]), ...vec([])] // (d, a) -> ()
  ]))
  // mul, add, permute, absorb, load, store, mix, canon, unpack, pack, sqr, partials
  const functions = section(3, vec([[0], [0], [1], [2], [1], [1], [0], [2], [3], [3], [3], [1]]))
  const memory = section(5, vec([[0x00, 1]]))
  const exports = section(7, vec([
    [...name("memory"), 0x02, 0],
    [...name("permute"), 0x00, PERMUTE],
    [...name("absorb"), 0x00, 3],
    [...name("load"), 0x00, 4],
    [...name("store"), 0x00, 5]
  ]))
  const code = section(10, vec([
    fnCode([[mul.locals, I64]], mul.code),
    fnCode([[add.locals, I64]], add.code),
    fnCode([[perm.locals, I32]], perm.code),
    fnCode([[2, I32]], absorbBody()),
    fnCode([], loadBody()),
    fnCode([], storeBody()),
    fnCode([[mixer.locals, I64]], mixer.code),
    fnCode([[canon.locals, I64]], canon.code),
    fnCode([[unpack.locals, I64]], unpack.code),
    fnCode([], pack.code),
    fnCode([[sqr.locals, I64]], sqr.code),
    fnCode([[partials.locals[0], I32], [partials.locals[1], I64]], partials.code)
  ]))
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...functions, ...memory, ...exports, ...code])
}

/** What is used of the global `WebAssembly` (Node's types do not declare it all). */
interface WebAssemblyApi {
  readonly Module: new(bytes: Uint8Array) => object
  readonly Instance: new(module: object) => { readonly exports: Record<string, unknown> }
}

export interface WasmPoseidon {
  readonly permute: (a: bigint, b: bigint, c: bigint) => [bigint, bigint, bigint]
  /** The sponge after absorbing `values` (even length) into `state`, no padding. */
  readonly absorb: (state: readonly [bigint, bigint, bigint], values: ReadonlyArray<bigint>) => [bigint, bigint, bigint]
  /** `poseidonHashMany(prefix ++ values)` from the state after the prefix (padding 1 then 0 to an even length). */
  readonly hashManyFrom: (state: readonly [bigint, bigint, bigint], values: ReadonlyArray<bigint>) => bigint
}

/**
 * The module instantiated with the round constants (`full`: eight rows of three, `partial`: one per partial round,
 * as `poseidon.ts` derives them), or `undefined` where WebAssembly is not available or refuses the module.
 */
export const instantiate = (
  full: ReadonlyArray<readonly [bigint, bigint, bigint]>,
  partial: ReadonlyArray<bigint>
): WasmPoseidon | undefined => {
  const api = (globalThis as { readonly WebAssembly?: WebAssemblyApi }).WebAssembly
  if (api === undefined) return undefined
  let exports: Record<string, unknown>
  try {
    exports = new api.Instance(new api.Module(moduleBytes())).exports
  } catch {
    return undefined
  }
  const memory = exports["memory"] as { readonly buffer: ArrayBuffer }
  const permuteState = exports["permute"] as () => void
  const absorbIn = exports["absorb"] as (n: number) => void
  const load = exports["load"] as () => void
  const store = exports["store"] as () => void
  const view = new DataView(memory.buffer)
  const write = (at: number, x: bigint) => {
    if (x < 0n || x >= P) x = mod(x)
    view.setBigUint64(at, x, true)
    view.setBigUint64(at + 8, x >> 64n, true)
    view.setBigUint64(at + 16, x >> 128n, true)
    view.setBigUint64(at + 24, x >> 192n, true)
  }
  const read = (at: number): bigint =>
    view.getBigUint64(at, true) | (view.getBigUint64(at + 8, true) << 64n) | (view.getBigUint64(at + 16, true) << 128n) |
    (view.getBigUint64(at + 24, true) << 192n)
  /** An element in the module's own form: nine 29-bit limbs, 64 bits each. */
  const writeLimbs = (at: number, x: bigint) => {
    for (let k = 0; k < LIMBS; k++) view.setBigUint64(at + 8 * k, (x >> BigInt(BITS * k)) & ((1n << BigInt(BITS)) - 1n), true)
  }
  const montgomery = (x: bigint) => mod(x * R)
  writeLimbs(R2_AT, mod(R * R))
  writeLimbs(ONE_AT, 1n)
  writeLimbs(ZERO_AT, 0n)
  full.forEach((row, r) => row.forEach((k, i) => writeLimbs(fullAt(r)[i]!, montgomery(k))))
  partial.forEach((k, r) => writeLimbs(PARTIAL_AT + E * r, montgomery(k)))

  const loadState = (a: bigint, b: bigint, c: bigint) => {
    write(IN_AT, a)
    write(IN_AT + 32, b)
    write(IN_AT + 64, c)
    load()
  }
  /** Absorbs `values`, then (when `pad`) the padding 1 and, for an even count, 0. */
  const absorbAll = (values: ReadonlyArray<bigint>, pad: boolean) => {
    const n = values.length
    const total = pad ? n + 2 - (n % 2) : n
    for (let from = 0; from < total; from += CHUNK) {
      const to = Math.min(total, from + CHUNK)
      for (let i = from; i < to; i++) write(IN_AT + 32 * (i - from), i < n ? values[i]! : i === n ? 1n : 0n)
      absorbIn(to - from)
    }
  }
  const readState = (): [bigint, bigint, bigint] => {
    store()
    return [read(OUT_AT), read(OUT_AT + 32), read(OUT_AT + 64)]
  }
  return {
    permute: (a, b, c) => {
      loadState(a, b, c)
      permuteState()
      return readState()
    },
    absorb: (state, values) => {
      loadState(state[0], state[1], state[2])
      absorbAll(values, false)
      return readState()
    },
    hashManyFrom: (state, values) => {
      loadState(state[0], state[1], state[2])
      absorbAll(values, true)
      store()
      return read(OUT_AT)
    }
  }
}
