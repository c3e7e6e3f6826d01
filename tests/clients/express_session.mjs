// express-session with connect-redis on node-redis (RESP2, and RESP3, which opens with
// HELLO 3), behind a real HTTP server: the command sequences an Express app sends for create
// (login), read, touch (rolling), regenerate (at login), destroy (logout), list and clear.
// Then ioredis (which checks INFO before it is ready) running the same store's commands.
//
// Run by tests/client_libraries.rs with SESSIOND_PORT set; exits non-zero on the first
// failed check. Needs `npm ci --prefix tests/clients`.

import http from "node:http";
import session from "express-session";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";
import Redis from "ioredis";

const PORT = Number(process.env.SESSIOND_PORT);
const MAX_AGE_MS = 30 * 60 * 1000;

function check(condition, what) {
  if (!condition) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

// A tiny app: /login regenerates the session and stores the user, /me reads it,
// /logout destroys it. `rolling` makes every response touch the session.
function app(store) {
  const middleware = session({
    store,
    secret: "test secret",
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { maxAge: MAX_AGE_MS },
  });
  return http.createServer((req, res) => {
    middleware(req, res, () => {
      const reply = (status, body) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.url === "/login") {
        req.session.regenerate((err) => {
          if (err) return reply(500, { error: String(err) });
          req.session.user = "alice";
          req.session.views = 0;
          req.session.save((err) => (err ? reply(500, { error: String(err) }) : reply(200, { id: req.sessionID })));
        });
      } else if (req.url === "/me") {
        if (!req.session.user) return reply(401, {});
        req.session.views += 1;
        reply(200, { user: req.session.user, views: req.session.views, id: req.sessionID });
      } else if (req.url === "/logout") {
        req.session.destroy((err) => reply(err ? 500 : 200, {}));
      } else {
        reply(404, {});
      }
    });
  });
}

async function request(base, path, cookie) {
  const response = await fetch(base + path, { headers: cookie ? { cookie } : {} });
  const setCookie = response.headers.get("set-cookie");
  return {
    status: response.status,
    body: await response.json(),
    cookie: setCookie ? setCookie.split(";")[0] : cookie,
  };
}

async function expressWithConnectRedis(resp) {
  const client = createClient({ url: `redis://127.0.0.1:${PORT}`, RESP: resp });
  client.on("error", (err) => check(false, `node-redis RESP${resp}: ${err}`));
  await client.connect();
  const label = `RESP${resp}`;
  const hello = await client.sendCommand(["CLIENT", "INFO"]);
  check(String(hello).includes(`resp=${resp}`), `${label}: node-redis speaks RESP${resp}`);
  const prefix = `sess${resp}:`;
  const store = new RedisStore({ client, prefix });
  const server = app(store);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;

  // create (login)
  const login = await request(base, "/login");
  check(login.status === 200 && login.cookie, `${label}: login creates a session cookie`);
  const firstId = login.body.id;
  const stored = JSON.parse(await client.get(prefix + firstId));
  check(stored.user === "alice", `${label}: the session is stored as JSON under ${prefix}ID`);
  const ttl = await client.ttl(prefix + firstId);
  check(ttl > MAX_AGE_MS / 1000 - 10 && ttl <= MAX_AGE_MS / 1000, `${label}: with the cookie's max age as TTL (${ttl} s)`);

  // read, and touch: rolling refreshes the TTL on every response
  await client.expire(prefix + firstId, 100);
  const me = await request(base, "/me", login.cookie);
  check(me.status === 200 && me.body.user === "alice" && me.body.views === 1, `${label}: read returns the session`);
  check((await client.ttl(prefix + firstId)) > 100, `${label}: the request touched (or saved) the session`);
  await request(base, "/me", login.cookie);
  check(JSON.parse(await client.get(prefix + firstId)).views === 2, `${label}: a change is saved`);

  // regenerate: logging in again with the old cookie replaces the id
  const again = await request(base, "/login", login.cookie);
  check(again.body.id !== firstId, `${label}: regenerate gives a new id`);
  check((await client.exists(prefix + firstId)) === 0, `${label}: and deletes the old session`);
  const stale = await request(base, "/me", login.cookie);
  check(stale.status === 401, `${label}: the old cookie no longer logs in`);

  // list: SCAN MATCH prefix* then MGET
  const others = [];
  for (let i = 0; i < 150; i++) others.push((await request(base, "/login")).body.id);
  const ids = await new Promise((resolve, reject) => store.ids((err, ids) => (err ? reject(err) : resolve(ids))));
  check(ids.length === 151 && ids.includes(again.body.id) && others.every((id) => ids.includes(id)), `${label}: ids() lists every session across SCAN pages`);
  const all = await new Promise((resolve, reject) => store.all((err, all) => (err ? reject(err) : resolve(all))));
  check(all.length === 151 && all.every((s) => s.user === "alice"), `${label}: all() reads them with MGET`);
  const length = await new Promise((resolve, reject) => store.length((err, n) => (err ? reject(err) : resolve(n))));
  check(length === 151, `${label}: length() counts them`);

  // destroy (logout)
  const logout = await request(base, "/logout", again.cookie);
  check(logout.status === 200 && (await client.exists(prefix + again.body.id)) === 0, `${label}: logout destroys the session`);

  // clear: every key with the prefix, and nothing else
  await client.set("unrelated", "kept");
  await new Promise((resolve, reject) => store.clear((err) => (err ? reject(err) : resolve())));
  check((await client.keys(prefix + "*")).length === 0, `${label}: clear() deletes every session`);
  check((await client.get("unrelated")) === "kept", `${label}: and nothing else`);
  await client.del("unrelated");

  await new Promise((resolve) => server.close(resolve));
  await client.quit();
}

async function ioredisStoreCommands() {
  const redis = new Redis({ port: PORT, host: "127.0.0.1", connectionName: "sessions-ioredis", lazyConnect: true });
  await redis.connect(); // resolves after its ready check (INFO) passed
  check(redis.status === "ready", "ioredis: connected and ready (INFO ready check)");
  check((await redis.client("GETNAME")) === "sessions-ioredis", "ioredis: CLIENT SETNAME from connectionName");
  await redis.set("sess:io1", JSON.stringify({ user: "bob" }), "EX", 1800);
  check(JSON.parse(await redis.get("sess:io1")).user === "bob", "ioredis: SET EX / GET");
  check((await redis.expire("sess:io1", 3600)) === 1, "ioredis: EXPIRE touches");
  const keys = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", "sess:*", "COUNT", 100);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  check(keys.length === 1 && keys[0] === "sess:io1", "ioredis: SCAN MATCH pages");
  const pipeline = await redis.pipeline().get("sess:io1").ttl("sess:io1").del("sess:io1").exec();
  check(pipeline[0][1] !== null && pipeline[1][1] > 3500 && pipeline[2][1] === 1, "ioredis: a pipeline of GET, TTL, DEL");
  await redis.quit();
}

await expressWithConnectRedis(2);
await expressWithConnectRedis(3);
await ioredisStoreCommands();
console.log("all checks passed");
