// The peer: a minimal Colyseus vote room doing sessiond's job in memory. The first vote of
// a turn opens a window (deadline = now + windowMs); votes are replaceable until it
// closes; at the deadline the room broadcasts the tally and the winner. "poke" broadcasts
// a state change to every client of the room (the fan-out figure).
//
//   node server.js --port 2567            prints "READY <port>" once listening on 127.0.0.1
"use strict";

const { Room, Server } = require("@colyseus/core");
const { WebSocketTransport } = require("@colyseus/ws-transport");

class VoteRoom extends Room {
  onCreate(options) {
    this.maxClients = 1000;
    this.windowMs = options.windowMs || 10000;
    this.turn = 1;
    this.votes = new Map(); // sessionId -> choice, in first-vote order
    this.deadline = 0;
    this.onMessage("vote", (client, choice) => this.vote(client, choice));
    this.onMessage("poke", (_client, sent) => this.broadcast("state", sent));
  }

  vote(client, choice) {
    if (this.deadline === 0) {
      this.deadline = Date.now() + this.windowMs;
      setTimeout(() => this.close(), this.deadline - Date.now());
      this.broadcast("opened", { turn: this.turn, deadline: this.deadline });
    }
    this.votes.set(client.sessionId, String(choice));
  }

  close() {
    const tally = {};
    for (const choice of this.votes.values()) tally[choice] = (tally[choice] || 0) + 1;
    let winner = "";
    for (const [choice, count] of Object.entries(tally)) if (!winner || count > tally[winner]) winner = choice;
    this.broadcast("resolved", { turn: this.turn, deadline: this.deadline, winner, tally });
    this.turn += 1;
    this.votes.clear();
    this.deadline = 0;
  }
}

async function main() {
  const at = process.argv.indexOf("--port");
  const port = at > 0 ? Number(process.argv[at + 1]) : 2567;
  const server = new Server({ transport: new WebSocketTransport({}), greet: false });
  server.define("vote", VoteRoom);
  await server.listen(port, "127.0.0.1");
  process.stdout.write(`READY ${port}\n`);
  process.on("SIGTERM", () => server.gracefullyShutdown(true));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
