// Preloaded (`node --import`) into the server a benchmark spawns: on exit, writes to stderr, as one JSON line, what
// the server went through from the moment it listened (its startup left out): its own event-loop delay (how late a
// 10 ms timer fires, so how long one turn of its loop ran), its GC pauses, and its CPU time (`cpuMs`, user and
// system). `longTurns` splits the turns over 100 ms by the CPU time the process had during each: a turn in which it
// had less than half of the wall time (`starved`) was mostly the machine not running it, not the server working.
import { writeSync } from "node:fs"
import * as net from "node:net"
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"

const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()
const pauses = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) pauses.push(entry.duration)
}).observe({ entryTypes: ["gc"] })

const longTurns = { count: 0, starved: 0, maxMs: 0, maxCpuMs: 0 }
let serving = false
let cpuAtListen = process.cpuUsage()
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  this.once("listening", () => {
    if (serving) return
    serving = true
    delay.reset()
    pauses.length = 0
    cpuAtListen = process.cpuUsage()
    last = performance.now()
    lastCpu = cpuAtListen
  })
  return listen.apply(this, args)
}

let last = performance.now()
let lastCpu = process.cpuUsage()
setInterval(() => {
  const now = performance.now()
  const cpu = process.cpuUsage()
  const wall = now - last
  if (serving && wall > 100) {
    const used = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000
    longTurns.count++
    if (used < wall / 2) longTurns.starved++
    longTurns.maxMs = Math.max(longTurns.maxMs, Math.round(wall))
    longTurns.maxCpuMs = Math.max(longTurns.maxCpuMs, Math.round(used))
  }
  last = now
  lastCpu = cpu
}, 10).unref()

process.on("exit", () => {
  const ms = (ns) => Math.round(ns / 1e4) / 100
  const cpu = process.cpuUsage()
  const line = {
    loopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
    gc: { pauses: pauses.length, totalMs: Math.round(pauses.reduce((a, b) => a + b, 0)), maxMs: Math.round(Math.max(0, ...pauses)) },
    longTurns,
    cpuMs: Math.round((cpu.user - cpuAtListen.user + cpu.system - cpuAtListen.system) / 1000)
  }
  writeSync(2, `soak-server-loop ${JSON.stringify(line)}\n`)
})
