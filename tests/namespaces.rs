//! Users, authentication and namespaces: AUTH/HELLO/RESET as configured users, isolation of
//! keys and pub/sub between namespaces, SESSION.NAMESPACE and its permissions, and
//! namespaces declared in the config file.

mod common;

use common::{RawClient, Server, TempConf, escape, frame};

const WRONGPASS: &[u8] = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";

/// Users of every test server: `shop` may use shop and blog, `blogger` only blog, `ops` all.
const USERS: &[&str] = &[
    "--user",
    "shop",
    "shop-pw",
    "shop,blog",
    "--user",
    "blogger",
    "blog-pw",
    "blog",
    "--user",
    "ops",
    "ops-pw",
    "*",
];

/// A server with the test users and `extra` flags.
fn server(extra: &[&str]) -> Server {
    let mut args = USERS.to_vec();
    args.extend_from_slice(extra);
    Server::sessiond(&args)
}

/// A raw connection already logged in as `user`.
fn login(server: &Server, user: &str, password: &str) -> RawClient {
    let mut client = server.raw();
    assert_eq!(client.call(&["AUTH", user, password]), b"+OK\r\n");
    client
}

/// Sends a command and expects `+OK`.
fn ok(client: &mut RawClient, args: &[&str]) {
    let reply = client.call(args);
    assert_eq!(escape(&reply), "+OK\\r\\n", "{args:?}");
}

/// Sends a command and expects exactly this reply.
fn expect(client: &mut RawClient, args: &[&str], reply: &str) {
    assert_eq!(
        escape(&client.call(args)),
        escape(reply.as_bytes()),
        "{args:?}"
    );
}

/// The `name` field of SESSION.NAMESPACE INFO: where the connection is.
fn current_namespace(client: &mut RawClient) -> String {
    let info = frame(&client.call(&["SESSION.NAMESPACE", "INFO"]));
    info.get("name")
        .unwrap_or_else(|| panic!("no name in {}", escape(&info.raw)))
        .text()
}

/// CLIENT INFO's `user=` field.
fn client_user(client: &mut RawClient) -> String {
    let text = frame(&client.call(&["CLIENT", "INFO"])).text();
    text.split(' ')
        .find_map(|field| field.strip_prefix("user="))
        .unwrap_or_else(|| panic!("no user= in {text}"))
        .to_string()
}

fn nopermission_to_use(user: &str, namespace: &str) -> String {
    format!("-NOPERM User {user} has no permissions to use namespace '{namespace}'\r\n")
}

fn nopermission_to_run(user: &str, command: &str) -> String {
    format!("-NOPERM User {user} has no permissions to run the '{command}' command\r\n")
}

#[test]
fn auth_forms_with_requirepass() {
    let server = server(&["--requirepass", "root-pw"]);
    let mut client = server.raw();
    assert_eq!(client.call(&["GET", "k"]), NOAUTH);
    assert_eq!(client.call(&["SESSION.NAMESPACE", "LIST"]), NOAUTH);
    assert_eq!(client.call(&["AUTH", "shop", "wrong"]), WRONGPASS);
    assert_eq!(client.call(&["AUTH", "nobody", "shop-pw"]), WRONGPASS);
    assert_eq!(client.call(&["AUTH", "wrong"]), WRONGPASS);
    assert_eq!(client.call(&["AUTH", "default", "shop-pw"]), WRONGPASS);
    assert_eq!(
        client.call(&["GET", "k"]),
        NOAUTH,
        "failed AUTHs leave it out"
    );

    ok(&mut client, &["AUTH", "shop", "shop-pw"]);
    assert_eq!(current_namespace(&mut client), "shop");
    assert_eq!(client_user(&mut client), "shop");
    ok(&mut client, &["SET", "k", "in-shop"]);

    let mut admin = login(&server, "default", "root-pw");
    assert_eq!(current_namespace(&mut admin), "default");
    assert_eq!(admin.call(&["GET", "k"]), b"$-1\r\n");
    let list = frame(&admin.call(&["CLIENT", "LIST"])).text();
    assert!(
        list.lines().any(|line| line.contains(" user=shop ")),
        "CLIENT LIST shows the user:\n{list}"
    );

    // AUTH as another user moves the connection; a failed one leaves it where it was.
    assert_eq!(client.call(&["AUTH", "ops", "wrong"]), WRONGPASS);
    assert_eq!(current_namespace(&mut client), "shop");
    ok(&mut client, &["AUTH", "root-pw"]);
    assert_eq!(current_namespace(&mut client), "default");
    assert_eq!(client_user(&mut client), "default");
    assert_eq!(client.call(&["GET", "k"]), b"$-1\r\n");

    // Logging in again as the same user keeps the namespace and database, as in Redis.
    ok(&mut client, &["AUTH", "shop", "shop-pw"]);
    ok(&mut client, &["SESSION.NAMESPACE", "USE", "blog"]);
    ok(&mut client, &["SELECT", "2"]);
    ok(&mut client, &["SET", "here", "1"]);
    ok(&mut client, &["AUTH", "shop", "shop-pw"]);
    assert_eq!(current_namespace(&mut client), "blog");
    expect(&mut client, &["GET", "here"], "$1\r\n1\r\n");

    // RESET: the default user in `default`, not authenticated while requirepass is set.
    assert_eq!(client.call(&["RESET"]), b"+RESET\r\n");
    assert_eq!(client.call(&["GET", "k"]), NOAUTH);
    ok(&mut client, &["AUTH", "root-pw"]);
    assert_eq!(current_namespace(&mut client), "default");
    assert_eq!(client.call(&["GET", "here"]), b"$-1\r\n");
}

#[test]
fn hello_authenticates_configured_users() {
    let server = server(&["--requirepass", "root-pw"]);
    let mut client = server.raw();
    assert_eq!(
        client.call(&["HELLO", "3", "AUTH", "shop", "bad"]),
        WRONGPASS
    );
    let hello = frame(&client.call(&["HELLO", "3", "AUTH", "shop", "shop-pw"]));
    assert_eq!(hello.kind, b'%', "{}", escape(&hello.raw));
    assert_eq!(hello.get("proto").and_then(|p| p.integer()), Some(3));
    let info = frame(&client.call(&["SESSION.NAMESPACE", "INFO"]));
    assert_eq!(info.kind, b'%', "a RESP3 map: {}", escape(&info.raw));
    assert_eq!(info.get("name").map(|f| f.text()).as_deref(), Some("shop"));
    assert_eq!(client_user(&mut client), "shop");
}

#[test]
fn without_requirepass_connections_start_as_the_default_user() {
    let server = server(&[]);
    let mut client = server.raw();
    ok(&mut client, &["SET", "k", "default-value"]);
    assert_eq!(client_user(&mut client), "default");
    expect(
        &mut client,
        &["AUTH", "anything"],
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    );
    ok(&mut client, &["AUTH", "blogger", "blog-pw"]);
    assert_eq!(current_namespace(&mut client), "blog");
    assert_eq!(client.call(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(client.call(&["RESET"]), b"+RESET\r\n");
    assert_eq!(client_user(&mut client), "default");
    expect(&mut client, &["GET", "k"], "$13\r\ndefault-value\r\n");
}

#[test]
fn keys_do_not_cross_namespaces() {
    let server = server(&[]);
    let mut shop = login(&server, "shop", "shop-pw");
    let mut blog = login(&server, "blogger", "blog-pw");
    ok(&mut shop, &["SET", "k", "shop-value"]);
    ok(&mut shop, &["SET", "only-shop", "1"]);

    assert_eq!(blog.call(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(blog.call(&["EXISTS", "k", "only-shop"]), b":0\r\n");
    assert_eq!(blog.call(&["KEYS", "*"]), b"*0\r\n");
    assert_eq!(blog.call(&["SCAN", "0"]), b"*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(blog.call(&["DBSIZE"]), b":0\r\n");
    assert_eq!(blog.call(&["DEL", "k"]), b":0\r\n");
    expect(&mut blog, &["RENAME", "k", "k2"], "-ERR no such key\r\n");
    assert_eq!(blog.call(&["COPY", "k", "k2"]), b":0\r\n");
    assert_eq!(blog.call(&["MOVE", "k", "1"]), b":0\r\n");

    ok(&mut blog, &["SET", "k", "blog-value"]);
    ok(&mut blog, &["RENAME", "k", "renamed"]);
    ok(&mut blog, &["FLUSHALL"]);
    expect(&mut shop, &["GET", "k"], "$10\r\nshop-value\r\n");
    assert_eq!(shop.call(&["DBSIZE"]), b":2\r\n");
    assert_eq!(shop.call(&["EXISTS", "renamed"]), b":0\r\n");

    // MOVE, COPY and SWAPDB reach the other databases of the caller's namespace only.
    assert_eq!(shop.call(&["MOVE", "only-shop", "1"]), b":1\r\n");
    assert_eq!(shop.call(&["COPY", "k", "copied", "DB", "2"]), b":1\r\n");
    ok(&mut blog, &["SELECT", "1"]);
    assert_eq!(blog.call(&["DBSIZE"]), b":0\r\n");
    ok(&mut blog, &["SELECT", "2"]);
    assert_eq!(blog.call(&["EXISTS", "copied"]), b":0\r\n");
    ok(&mut blog, &["SELECT", "0"]);
    ok(&mut blog, &["SET", "blog-key", "x"]);
    ok(&mut shop, &["SWAPDB", "0", "2"]);
    assert_eq!(blog.call(&["DBSIZE"]), b":1\r\n");
    assert_eq!(shop.call(&["KEYS", "*"]), b"*1\r\n$6\r\ncopied\r\n");
}

#[test]
fn pubsub_and_keyspace_events_do_not_cross_namespaces() {
    let server = server(&["--notify-keyspace-events", "KEA"]);
    let mut subscriber = login(&server, "shop", "shop-pw");
    subscriber.send(&["SUBSCRIBE", "news"]);
    assert_eq!(
        subscriber.read_reply(),
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    subscriber.send(&["PSUBSCRIBE", "__key*__:*"]);
    assert_eq!(
        subscriber.read_reply(),
        b"*3\r\n$10\r\npsubscribe\r\n$10\r\n__key*__:*\r\n:2\r\n"
    );

    let mut blog = login(&server, "blogger", "blog-pw");
    assert_eq!(blog.call(&["PUBLISH", "news", "from-blog"]), b":0\r\n");
    ok(&mut blog, &["SET", "k", "v"]);
    assert_eq!(blog.call(&["DEL", "k"]), b":1\r\n");
    assert_eq!(blog.call(&["PUBSUB", "CHANNELS"]), b"*0\r\n");
    assert_eq!(
        blog.call(&["PUBSUB", "NUMSUB", "news"]),
        b"*2\r\n$4\r\nnews\r\n:0\r\n"
    );
    assert_eq!(blog.call(&["PUBSUB", "NUMPAT"]), b":0\r\n");

    // Messages reach a mailbox in order, so had anything from blog leaked, it would arrive
    // before this one.
    let mut shop = login(&server, "shop", "shop-pw");
    assert_eq!(
        shop.call(&["PUBSUB", "NUMSUB", "news"]),
        b"*2\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(shop.call(&["PUBLISH", "news", "from-shop"]), b":1\r\n");
    assert_eq!(
        escape(&subscriber.read_reply()),
        escape(b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$9\r\nfrom-shop\r\n")
    );
    // Keyspace events of the subscriber's own namespace do arrive.
    ok(&mut shop, &["SET", "mine", "v"]);
    assert_eq!(
        escape(&subscriber.read_reply()),
        escape(b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$19\r\n__keyspace@0__:mine\r\n$3\r\nset\r\n")
    );
}

#[test]
fn a_subscribed_connection_cannot_change_namespace() {
    let server = server(&[]);
    let mut client = server.raw();
    assert_eq!(frame(&client.call(&["HELLO", "3"])).kind, b'%');
    client.send(&["SUBSCRIBE", "ch"]);
    assert_eq!(
        client.read_reply(),
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    let refused = "-ERR cannot change namespace while subscribed to channels or patterns; UNSUBSCRIBE and PUNSUBSCRIBE first\r\n";
    expect(&mut client, &["SESSION.NAMESPACE", "USE", "shop"], refused);
    expect(&mut client, &["AUTH", "shop", "shop-pw"], refused);
    assert_eq!(
        client_user(&mut client),
        "default",
        "the refused AUTH changed nothing"
    );
    ok(&mut client, &["SESSION.NAMESPACE", "USE", "default"]);

    let mut publisher = server.raw();
    assert_eq!(publisher.call(&["PUBLISH", "ch", "x"]), b":1\r\n");
    assert_eq!(
        client.read_reply(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n"
    );
    client.send(&["UNSUBSCRIBE"]);
    assert_eq!(
        client.read_reply(),
        b">3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n"
    );
    ok(&mut client, &["SESSION.NAMESPACE", "USE", "shop"]);
    assert_eq!(
        publisher.call(&["PUBSUB", "NUMSUB", "ch"]),
        b"*2\r\n$2\r\nch\r\n:0\r\n"
    );
}

#[test]
fn namespace_permissions() {
    let server = server(&[]);
    let mut shop = login(&server, "shop", "shop-pw");
    ok(&mut shop, &["SESSION.NAMESPACE", "USE", "blog"]);
    assert_eq!(current_namespace(&mut shop), "blog");
    for name in ["default", "nosuch"] {
        expect(
            &mut shop,
            &["SESSION.NAMESPACE", "USE", name],
            &nopermission_to_use("shop", name),
        );
        expect(
            &mut shop,
            &["SESSION.NAMESPACE", "INFO", name],
            &nopermission_to_use("shop", name),
        );
    }
    assert_eq!(current_namespace(&mut shop), "blog");
    for (args, command) in [
        (
            &["SESSION.NAMESPACE", "CREATE", "x"][..],
            "session.namespace|create",
        ),
        (
            &["SESSION.NAMESPACE", "CONFIG", "shop", "idle-timeout", "1"][..],
            "session.namespace|config",
        ),
        (
            &["SESSION.NAMESPACE", "DROP", "blog"][..],
            "session.namespace|drop",
        ),
        (&["CONFIG", "GET", "requirepass"][..], "config|get"),
        (&["CONFIG", "SET", "maxclients", "1"][..], "config|set"),
        (&["CLIENT", "LIST"][..], "client|list"),
        (&["CLIENT", "KILL", "USER", "default"][..], "client|kill"),
    ] {
        expect(&mut shop, args, &nopermission_to_run("shop", command));
    }
    expect(
        &mut shop,
        &["SESSION.NAMESPACE", "LIST"],
        "*2\r\n$4\r\nblog\r\n$4\r\nshop\r\n",
    );

    let mut ops = login(&server, "ops", "ops-pw");
    assert_eq!(current_namespace(&mut ops), "default");
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "LIST"],
        "*3\r\n$4\r\nblog\r\n$7\r\ndefault\r\n$4\r\nshop\r\n",
    );
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "USE", "nosuch"],
        "-ERR no such namespace 'nosuch'\r\n",
    );
    ok(&mut ops, &["SESSION.NAMESPACE", "USE", "shop"]);
    expect(&mut ops, &["CLIENT", "KILL", "USER", "blogger"], ":0\r\n");
    expect(
        &mut ops,
        &["CLIENT", "KILL", "USER", "nobody"],
        "-ERR No such user 'nobody'\r\n",
    );
}

#[test]
fn create_config_and_info() {
    let server = server(&[]);
    let mut ops = login(&server, "ops", "ops-pw");
    ok(
        &mut ops,
        &[
            "SESSION.NAMESPACE",
            "CREATE",
            "t1",
            "Idle-Timeout",
            "60",
            "on-limit",
            "reject",
        ],
    );
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "CREATE", "t1"],
        "-ERR namespace 't1' already exists\r\n",
    );
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "CREATE", "a,b"],
        "-ERR 'a,b' is not a valid namespace name (it must be non-empty, without ',' or '*')\r\n",
    );
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "CREATE", "t2", "colour", "blue"],
        "-ERR unknown namespace option 'colour' (options: max-sessions-per-user, on-limit, idle-timeout, absolute-timeout, recovery-window, max-session-bytes)\r\n",
    );
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "CREATE", "t2", "idle-timeout", "-1"],
        "-ERR invalid value '-1' for 'idle-timeout': argument must be between 0 and 9223372036854775 inclusive\r\n",
    );
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "CREATE", "t2", "idle-timeout"],
        "-ERR syntax error\r\n",
    );
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "INFO", "t2"],
        "-ERR no such namespace 't2'\r\n",
    );

    let info = "*22\r\n$4\r\nname\r\n$2\r\nt1\r\n\
        $21\r\nmax-sessions-per-user\r\n:0\r\n$8\r\non-limit\r\n$6\r\nreject\r\n\
        $12\r\nidle-timeout\r\n:60\r\n$16\r\nabsolute-timeout\r\n:86400\r\n\
        $15\r\nrecovery-window\r\n:3600\r\n$17\r\nmax-session-bytes\r\n:1048576\r\n\
        $9\r\ndatabases\r\n:0\r\n$4\r\nkeys\r\n:0\r\n\
        $15\r\nsessions_active\r\n:0\r\n$12\r\nusers_active\r\n:0\r\n";
    expect(&mut ops, &["SESSION.NAMESPACE", "INFO", "t1"], info);

    ok(
        &mut ops,
        &[
            "SESSION.NAMESPACE",
            "CONFIG",
            "t1",
            "idle-timeout",
            "120",
            "max-sessions-per-user",
            "3",
        ],
    );
    // All or nothing: a bad option leaves the good one before it unapplied.
    expect(
        &mut ops,
        &[
            "SESSION.NAMESPACE",
            "CONFIG",
            "t1",
            "idle-timeout",
            "5",
            "on-limit",
            "maybe",
        ],
        "-ERR invalid value 'maybe' for 'on-limit': argument(s) must be one of the following: evict-oldest, reject\r\n",
    );
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "CONFIG", "nosuch", "idle-timeout", "5"],
        "-ERR no such namespace 'nosuch'\r\n",
    );
    ok(&mut ops, &["SESSION.NAMESPACE", "USE", "t1"]);
    ok(&mut ops, &["SET", "a", "1"]);
    ok(&mut ops, &["SELECT", "3"]);
    ok(&mut ops, &["MSET", "b", "2", "c", "3"]);
    // Two users with three sessions, plus an anonymous one that belongs to no user.
    let sessions: Vec<String> = ["u1", "u1", "u2", ""]
        .iter()
        .map(|user| frame(&ops.call(&["SESSION.CREATE", user])).text())
        .collect();
    let info = frame(&ops.call(&["SESSION.NAMESPACE", "INFO"]));
    let field = |name: &str| info.get(name).and_then(|f| f.integer());
    assert_eq!(field("idle-timeout"), Some(120));
    assert_eq!(field("max-sessions-per-user"), Some(3));
    assert_eq!(field("databases"), Some(2));
    assert_eq!(field("keys"), Some(3));
    assert_eq!(field("sessions_active"), Some(4));
    assert_eq!(field("users_active"), Some(2));
    assert_eq!(
        info.get("on-limit").map(|f| f.text()).as_deref(),
        Some("reject")
    );

    // Ending u2's only session leaves one user; INFO of t1 from elsewhere says the same.
    expect(&mut ops, &["SESSION.END", &sessions[2]], ":1\r\n");
    ok(&mut ops, &["SESSION.NAMESPACE", "USE", "default"]);
    let info = frame(&ops.call(&["SESSION.NAMESPACE", "INFO", "t1"]));
    let field = |name: &str| info.get(name).and_then(|f| f.integer());
    assert_eq!(field("sessions_active"), Some(3));
    assert_eq!(field("users_active"), Some(1));
    let here = frame(&ops.call(&["SESSION.NAMESPACE", "INFO"]));
    assert_eq!(
        here.get("sessions_active").and_then(|f| f.integer()),
        Some(0)
    );
}

#[test]
fn drop_disconnects_the_namespace_and_discards_its_data() {
    let server = server(&[]);
    let mut ops = login(&server, "ops", "ops-pw");
    let mut inside = login(&server, "shop", "shop-pw");
    let mut outside = login(&server, "blogger", "blog-pw");
    ok(&mut inside, &["SET", "k", "v"]);
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "DROP", "default"],
        "-ERR the default namespace cannot be dropped\r\n",
    );
    ok(&mut ops, &["SESSION.NAMESPACE", "USE", "shop"]);
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "DROP", "shop"],
        "-ERR cannot drop the namespace in use by this connection\r\n",
    );
    ok(&mut ops, &["SESSION.NAMESPACE", "USE", "default"]);
    ok(&mut ops, &["SESSION.NAMESPACE", "DROP", "shop"]);
    inside.expect_closed();
    expect(&mut outside, &["PING"], "+PONG\r\n");
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "DROP", "shop"],
        "-ERR no such namespace 'shop'\r\n",
    );
    expect(
        &mut ops,
        &["SESSION.NAMESPACE", "LIST"],
        "*2\r\n$4\r\nblog\r\n$7\r\ndefault\r\n",
    );
    // A user whose first namespace is gone cannot log in until it exists again.
    let mut again = server.raw();
    expect(
        &mut again,
        &["AUTH", "shop", "shop-pw"],
        "-ERR no such namespace 'shop'\r\n",
    );
    ok(&mut ops, &["SESSION.NAMESPACE", "CREATE", "shop"]);
    ok(&mut again, &["AUTH", "shop", "shop-pw"]);
    assert_eq!(again.call(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(again.call(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn help_and_unknown_subcommands() {
    let server = server(&[]);
    let mut client = server.raw();
    let help = frame(&client.call(&["SESSION.NAMESPACE", "HELP"]));
    assert_eq!(
        help.items.first().map(|f| f.text()).as_deref(),
        Some("SESSION.NAMESPACE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    assert!(
        help.items
            .iter()
            .any(|line| line.text().starts_with("DROP <name>"))
    );
    expect(
        &mut client,
        &["session.namespace", "frobnicate"],
        "-ERR unknown subcommand 'frobnicate'. Try SESSION.NAMESPACE HELP.\r\n",
    );
    expect(
        &mut client,
        &["SESSION.NAMESPACE", "USE"],
        "-ERR wrong number of arguments for 'session.namespace|use' command\r\n",
    );
}

#[test]
fn namespaces_from_the_config_file_exist_at_start_with_their_policy() {
    let conf = TempConf::new(
        "port 0\nappendonly no\n\
         namespace shop max-sessions-per-user 5 on-limit reject idle-timeout 900\n\
         namespace default idle-timeout 10\n\
         user alice alice-pw blog,shop\n",
    );
    let server = Server::try_sessiond(&[conf.arg()]).unwrap_or_else(|e| panic!("{e}"));
    let mut admin = server.raw();
    expect(
        &mut admin,
        &["SESSION.NAMESPACE", "LIST"],
        "*3\r\n$4\r\nblog\r\n$7\r\ndefault\r\n$4\r\nshop\r\n",
    );
    let integer = |client: &mut RawClient, namespace: &str, field: &str| {
        frame(&client.call(&["SESSION.NAMESPACE", "INFO", namespace]))
            .get(field)
            .and_then(|f| f.integer())
    };
    assert_eq!(
        integer(&mut admin, "shop", "max-sessions-per-user"),
        Some(5)
    );
    assert_eq!(integer(&mut admin, "shop", "idle-timeout"), Some(900));
    assert_eq!(integer(&mut admin, "blog", "idle-timeout"), Some(1800));
    assert_eq!(integer(&mut admin, "default", "idle-timeout"), Some(10));
    let mut alice = login(&server, "alice", "alice-pw");
    assert_eq!(current_namespace(&mut alice), "blog");
}
