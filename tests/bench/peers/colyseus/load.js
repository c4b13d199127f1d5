// One load process of the Colyseus peer benchmark (tests/bench/colyseus.py starts several).
// Creates its rooms, joins `perRoom` clients to each (one WebSocket per client), then on
// "GO" from its parent: (1) every room's first client pokes, and each client records
// receive time - send time of that broadcast; (2) each room opens its window with a first
// vote, the openings paced over spreadMs; every client votes (one replaces its vote), and
// each records receive time of "resolved" - deadline. Same machine, same clock.
//
//   node load.js --url ws://127.0.0.1:2567 --rooms 200 --per-room 5 --window-ms 5000 --spread-ms 2000
//   -> READY <clients>   <- GO   -> RESULT <json>
"use strict";

const readline = require("readline");
const { Client } = require("colyseus.js");

function arg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

const url = arg("url", "ws://127.0.0.1:2567");
const rooms = Number(arg("rooms", "100"));
const perRoom = Number(arg("per-room", "5"));
const windowMs = Number(arg("window-ms", "5000"));
const spreadMs = Number(arg("spread-ms", "2000"));
const joinsAtOnce = Number(arg("ramp", "100"));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

function waiter(count) {
  let left = count;
  let done;
  const promise = new Promise((resolve) => (done = resolve));
  if (left === 0) done();
  return { promise, hit: () => --left === 0 && done() };
}

async function main() {
  const client = new Client(url);
  const fanout = [];
  const lag = [];
  let errors = 0;
  let poked = waiter(rooms * perRoom);
  let resolved = waiter(rooms * perRoom);
  const groups = [];
  await inBatches([...Array(rooms).keys()], joinsAtOnce, async () => {
    const first = await client.create("vote", { windowMs });
    const rest = await Promise.all([...Array(perRoom - 1)].map(() => client.joinById(first.roomId)));
    groups.push([first, ...rest]);
  });
  for (const group of groups) {
    for (const room of group) {
      room.onMessage("state", (sent) => {
        fanout.push(Date.now() - sent);
        poked.hit();
      });
      room.onMessage("opened", () => {});
      room.onMessage("resolved", (m) => {
        lag.push(Date.now() - m.deadline);
        resolved.hit();
      });
      room.onError(() => (errors += 1));
    }
  }
  process.stdout.write(`READY ${rooms * perRoom}\n`);
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === "GO") break;

  const cpuStart = process.cpuUsage();
  const sent = Date.now();
  for (const group of groups) group[0].send("poke", sent);
  await poked.promise;

  const pace = spreadMs / Math.max(groups.length, 1);
  const started = Date.now();
  for (const [i, group] of groups.entries()) {
    const wait = started + i * pace - Date.now();
    if (wait > 0) await sleep(wait);
    group[0].send("vote", "a");
    group.slice(1).forEach((room, k) => room.send("vote", k % 2 ? "a" : "b"));
    if (group.length > 1) group[1].send("vote", "a"); // a replaced vote
  }
  await resolved.promise;
  const cpu = process.cpuUsage(cpuStart);
  process.stdout.write(
    `RESULT ${JSON.stringify({ fanout, lag, errors, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`
  );
  for (const group of groups) for (const room of group) room.leave(true);
  await sleep(100);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
