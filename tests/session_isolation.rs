//! Sessions never cross namespaces: a user of `blog` can neither read, write, end, count,
//! list nor hear the sessions of `shop`, one session user name in two namespaces has two
//! independent caps and policies, an admin sees the sessions of the namespace it uses, and a
//! dropped namespace takes its sessions with it.
//!
//! Every hostile attempt is followed by a check that the victim's session is exactly as it
//! was (SESSION.INFO and PEEK byte for byte: state, version, last access, deadlines, data).
//! Events that must not arrive are shown absent by awaiting a later event of the
//! subscriber's own namespace: a mailbox delivers in order, so a leak would come first.

mod common;

use common::{Frame, RawClient, SESSION_EVENTS, Server, escape, frame};

/// `alice` may use shop, `bob` blog, `root` every namespace.
const USERS: &[&str] = &[
    "--user", "alice", "pw-a", "shop", "--user", "bob", "pw-b", "blog", "--user", "root",
    "pw-root", "*",
];

/// A server with [`USERS`] and `extra` flags.
fn server(extra: &[&str]) -> Server {
    let mut args = USERS.to_vec();
    args.extend_from_slice(extra);
    Server::sessiond(&args)
}

/// A connection logged in as `user` of [`USERS`].
fn login(server: &Server, user: &str) -> RawClient {
    let password = match user {
        "alice" => "pw-a",
        "bob" => "pw-b",
        "root" => "pw-root",
        other => panic!("no test user {other}"),
    };
    let mut client = server.raw();
    expect(&mut client, &["AUTH", user, password], "+OK\r\n");
    client
}

fn call(client: &mut RawClient, args: &[&str]) -> Frame {
    frame(&client.call(args))
}

/// Sends a command and expects exactly this reply.
fn expect(client: &mut RawClient, args: &[&str], reply: &str) {
    assert_eq!(
        escape(&client.call(args)),
        escape(reply.as_bytes()),
        "{args:?}"
    );
}

fn int(client: &mut RawClient, args: &[&str]) -> i64 {
    let reply = call(client, args);
    reply
        .integer()
        .unwrap_or_else(|| panic!("{args:?}: not an integer: {}", escape(&reply.raw)))
}

/// `SESSION.CREATE args...`; returns the new id.
fn create(client: &mut RawClient, args: &[&str]) -> String {
    let mut command = vec!["SESSION.CREATE"];
    command.extend_from_slice(args);
    let reply = call(client, &command);
    assert!(
        reply.kind == b'$' && !reply.null,
        "{command:?}: {}",
        escape(&reply.raw)
    );
    reply.text()
}

/// The texts of an array reply (SESSION.LIST, CLEANUP DRYRUN).
fn texts(client: &mut RawClient, args: &[&str]) -> Vec<String> {
    let reply = call(client, args);
    assert_eq!(reply.kind, b'*', "{args:?}: {}", escape(&reply.raw));
    reply.items.iter().map(Frame::text).collect()
}

/// One field of a SESSION.INFO / SESSION.STATS / SESSION.NAMESPACE INFO map, as text.
fn field(client: &mut RawClient, args: &[&str], name: &str) -> String {
    let reply = call(client, args);
    reply
        .get(name)
        .unwrap_or_else(|| panic!("{args:?}: no {name} in {}", escape(&reply.raw)))
        .text()
}

/// One `name:value` line of `INFO sessions`.
fn info_sessions(client: &mut RawClient, name: &str) -> String {
    let text = call(client, &["INFO", "sessions"]).text();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in INFO sessions:\n{text}"))
        .to_string()
}

/// What another namespace must not change: SESSION.INFO and SESSION.PEEK, byte for byte.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    info: String,
    data: String,
}

/// The session `id` as its owner sees it.
fn snapshot(owner: &mut RawClient, id: &str) -> Snapshot {
    Snapshot {
        info: escape(&owner.call(&["SESSION.INFO", id])),
        data: escape(&owner.call(&["SESSION.PEEK", id])),
    }
}

/// Runs `args` on `intruder`, expects `reply`, then checks every victim is as it was.
fn attempt(
    intruder: &mut RawClient,
    args: &[&str],
    reply: &str,
    owner: &mut RawClient,
    victims: &[(&str, &Snapshot)],
) {
    expect(intruder, args, reply);
    for (id, before) in victims {
        assert_eq!(&snapshot(owner, id), *before, "{id} changed after {args:?}");
    }
}

/// The channel of `event` in `namespace`.
fn channel(namespace: &str, event: &str) -> String {
    format!("__session@{namespace}__:{event}")
}

/// Runs SUBSCRIBE or PSUBSCRIBE of `topics` on `client` and reads the confirmations.
fn subscribe(client: &mut RawClient, command: &str, topics: &[String]) {
    let mut args = vec![command];
    args.extend(topics.iter().map(String::as_str));
    client.send(&args);
    for topic in topics {
        let reply = frame(&client.read_reply());
        let kind = command.to_ascii_lowercase();
        assert_eq!(
            (reply.items[0].text(), reply.items[1].text()),
            (kind, topic.clone()),
            "{}",
            escape(&reply.raw)
        );
    }
}

/// Subscribes `client` to every session event channel of `namespace`.
fn subscribe_events(client: &mut RawClient, namespace: &str) {
    let channels: Vec<String> = SESSION_EVENTS
        .iter()
        .map(|e| channel(namespace, e))
        .collect();
    subscribe(client, "SUBSCRIBE", &channels);
}

/// The next message a subscriber receives, direct or by pattern, must be `event` of
/// `namespace` with `payload`.
fn expect_event(subscriber: &mut RawClient, namespace: &str, event: &str, payload: &str) {
    let bytes = subscriber.read_reply();
    let message = frame(&bytes);
    let texts: Vec<String> = message.items.iter().map(Frame::text).collect();
    let (channel_got, payload_got) = match texts.as_slice() {
        [kind, channel, payload] if kind == "message" => (channel, payload),
        [kind, _, channel, payload] if kind == "pmessage" => (channel, payload),
        _ => panic!("not a message: {}", escape(&bytes)),
    };
    assert_eq!(
        (channel_got.as_str(), payload_got.as_str()),
        (channel(namespace, event).as_str(), payload),
        "expected {event} of {namespace}"
    );
}

/// A blog user can neither read, write nor end a shop session, nor recover an ended one,
/// and ENDALL/CLEANUP in blog end only blog's sessions.
#[test]
fn another_namespace_can_neither_read_write_nor_end_a_session() {
    let server = server(&[]);
    let mut alice = login(&server, "alice");
    let mut bob = login(&server, "bob");
    let victim = create(&mut alice, &["carol", "DATA", "cart", "3 items"]);
    expect(
        &mut alice,
        &["SESSION.SET", &victim, "step", "pay"],
        ":2\r\n",
    );
    let ended = create(&mut alice, &["carol", "DATA", "cart", "old"]);
    expect(&mut alice, &["SESSION.END", &ended], ":1\r\n");
    let victim_before = snapshot(&mut alice, &victim);
    let ended_before = snapshot(&mut alice, &ended);
    assert_eq!(
        field(&mut alice, &["SESSION.INFO", &victim], "state"),
        "active"
    );
    assert_eq!(
        field(&mut alice, &["SESSION.INFO", &ended], "state"),
        "ended"
    );
    let victims = [
        (victim.as_str(), &victim_before),
        (ended.as_str(), &ended_before),
    ];

    let v = victim.as_str();
    let attempts: &[(&[&str], &str)] = &[
        (&["SESSION.GET", v], "$-1\r\n"),
        (&["SESSION.GET", v, "cart"], "$-1\r\n"),
        (&["SESSION.PEEK", v], "$-1\r\n"),
        (&["SESSION.PEEK", v, "cart"], "$-1\r\n"),
        (&["SESSION.INFO", v], "$-1\r\n"),
        (&["SESSION.INFO", &ended], "$-1\r\n"),
        (&["SESSION.TTL", v], ":-2\r\n"),
        (&["SESSION.SET", v, "cart", "stolen"], "$-1\r\n"),
        (&["SESSION.CAS", v, "2", "cart", "stolen"], "$-1\r\n"),
        (&["SESSION.UNSET", v, "cart"], "$-1\r\n"),
        (&["SESSION.TOUCH", v], ":-2\r\n"),
        (&["SESSION.END", v], ":0\r\n"),
        (&["SESSION.ROTATE", v], "$-1\r\n"),
        (&["SESSION.RECOVER", &ended], "$-1\r\n"),
        (&["SESSION.ENDALL", "carol"], ":0\r\n"),
        (&["SESSION.CLEANUP", "FORCE"], ":0\r\n"),
    ];
    for (args, reply) in attempts {
        attempt(&mut bob, args, reply, &mut alice, &victims);
    }

    // With blog sessions of its own, ENDALL and CLEANUP end those and nothing of shop's.
    let theirs = create(&mut bob, &["carol"]);
    assert_eq!(
        texts(&mut bob, &["SESSION.CLEANUP", "FORCE", "DRYRUN"]),
        std::slice::from_ref(&theirs)
    );
    let endall_except = ["SESSION.ENDALL", "carol", "EXCEPT", v];
    attempt(&mut bob, &endall_except, ":1\r\n", &mut alice, &victims);
    assert_eq!(
        field(&mut bob, &["SESSION.INFO", &theirs], "end_reason"),
        "ended"
    );
    create(&mut bob, &["carol"]);
    create(&mut bob, &[""]);
    let cleanup = ["SESSION.CLEANUP", "FORCE"];
    attempt(&mut bob, &cleanup, ":2\r\n", &mut alice, &victims);

    // The owner still has both: the active one still at version 2, the ended one recoverable.
    expect(&mut alice, &["SESSION.SET", v, "step", "done"], ":3\r\n");
    let recovered = call(&mut alice, &["SESSION.RECOVER", &ended]).text();
    expect(
        &mut alice,
        &["SESSION.GET", &recovered, "cart"],
        "*1\r\n$3\r\nold\r\n",
    );
}

/// COUNT, STATS, INFO `sessions` and LIST in blog see blog's sessions only, for a session
/// user name that exists in both namespaces too.
#[test]
fn another_namespace_counts_and_lists_only_its_own_sessions() {
    let server = server(&[]);
    let mut alice = login(&server, "alice");
    let mut bob = login(&server, "bob");
    let shop_carol = [
        create(&mut alice, &["carol"]),
        create(&mut alice, &["carol"]),
    ];
    create(&mut alice, &["dave"]);
    create(&mut alice, &[""]);
    let ended = create(&mut alice, &["erin"]);
    expect(&mut alice, &["SESSION.END", &ended], ":1\r\n");
    let blog_carol = create(&mut bob, &["carol"]);

    assert_eq!(int(&mut bob, &["SESSION.COUNT"]), 1);
    assert_eq!(int(&mut bob, &["SESSION.COUNT", "carol"]), 1);
    assert_eq!(int(&mut bob, &["SESSION.COUNT", "dave"]), 0);
    assert_eq!(
        texts(&mut bob, &["SESSION.LIST", "carol"]),
        std::slice::from_ref(&blog_carol)
    );
    assert_eq!(
        texts(&mut bob, &["SESSION.LIST", "dave"]),
        Vec::<String>::new()
    );
    let with_info = call(&mut bob, &["SESSION.LIST", "carol", "WITHINFO"]);
    assert_eq!(with_info.items.len(), 1, "{}", escape(&with_info.raw));
    assert_eq!(
        with_info.items[0].get("id").map(Frame::text),
        Some(blog_carol)
    );
    for (name, value) in [
        ("active", "1"),
        ("users_active", "1"),
        ("peak_active", "1"),
        ("created_total", "1"),
        ("ended_total", "0"),
        ("recoverable", "0"),
    ] {
        assert_eq!(
            field(&mut bob, &["SESSION.STATS"], name),
            value,
            "STATS {name}"
        );
        assert_eq!(info_sessions(&mut bob, name), value, "INFO sessions {name}");
    }
    assert_eq!(info_sessions(&mut bob, "namespace"), "blog");

    // Shop's own view is whole: five created, one ended, three users ever, two active.
    assert_eq!(int(&mut alice, &["SESSION.COUNT"]), 4);
    assert_eq!(int(&mut alice, &["SESSION.COUNT", "carol"]), 2);
    assert_eq!(texts(&mut alice, &["SESSION.LIST", "carol"]), shop_carol);
    for (name, value) in [
        ("active", "4"),
        ("users_active", "2"),
        ("created_total", "5"),
        ("ended_total", "1"),
        ("recoverable", "1"),
    ] {
        assert_eq!(
            field(&mut alice, &["SESSION.STATS"], name),
            value,
            "STATS {name}"
        );
        assert_eq!(
            info_sessions(&mut alice, name),
            value,
            "INFO sessions {name}"
        );
    }
}

/// Shop's events reach neither a blog connection subscribed to shop's channels or to the
/// pattern `__session@*`, nor an admin doing the same from `default`; each hears its own.
#[test]
fn events_never_reach_another_namespace() {
    let server = server(&["--namespace", "shop", "max-sessions-per-user", "1"]);
    let mut alice = login(&server, "alice");
    let mut shop_watcher = login(&server, "alice");
    subscribe_events(&mut shop_watcher, "shop");
    let every_namespace = ["__session@*".to_string()];
    let mut intruders = [login(&server, "bob"), login(&server, "root")];
    for intruder in &mut intruders {
        subscribe_events(intruder, "shop");
        subscribe(intruder, "PSUBSCRIBE", &every_namespace);
    }
    // Subscriptions count only where they were made.
    expect(
        &mut alice,
        &["PUBSUB", "NUMSUB", &channel("shop", "created")],
        "*2\r\n$24\r\n__session@shop__:created\r\n:1\r\n",
    );
    expect(&mut alice, &["PUBSUB", "NUMPAT"], ":0\r\n");

    // Every kind of event in shop, each awaited on shop's own subscriber.
    let a = create(&mut alice, &["carol"]);
    expect_event(&mut shop_watcher, "shop", "created", &a);
    let b = create(&mut alice, &["carol"]);
    expect_event(&mut shop_watcher, "shop", "evicted", &a);
    expect_event(&mut shop_watcher, "shop", "created", &b);
    let b2 = call(&mut alice, &["SESSION.ROTATE", &b]).text();
    expect_event(&mut shop_watcher, "shop", "rotated", &format!("{b} {b2}"));
    expect(&mut alice, &["SESSION.END", &b2], ":1\r\n");
    expect_event(&mut shop_watcher, "shop", "ended", &b2);
    let b3 = call(&mut alice, &["SESSION.RECOVER", &b2]).text();
    expect_event(
        &mut shop_watcher,
        "shop",
        "recovered",
        &format!("{b2} {b3}"),
    );
    expect(&mut alice, &["SESSION.ENDALL", "carol"], ":1\r\n");
    expect_event(&mut shop_watcher, "shop", "ended", &b3);
    let c = create(&mut alice, &["dave"]);
    expect_event(&mut shop_watcher, "shop", "created", &c);
    expect(&mut alice, &["SESSION.CLEANUP", "FORCE"], ":1\r\n");
    expect_event(&mut shop_watcher, "shop", "ended", &c);
    let d = create(&mut alice, &["erin", "IDLE", "1"]);
    expect_event(&mut shop_watcher, "shop", "created", &d);
    expect_event(&mut shop_watcher, "shop", "expired", &d);

    // Everything of shop's was published before these; had any leaked, it would come first.
    let mut bob = login(&server, "bob");
    let mine = create(&mut bob, &["carol"]);
    expect_event(&mut intruders[0], "blog", "created", &mine);
    let mut root = login(&server, "root");
    let mine = create(&mut root, &["carol"]);
    expect_event(&mut intruders[1], "default", "created", &mine);
}

/// One session user name in shop and blog has each namespace's cap and policy: shop's
/// full cap refuses there only, blog's eviction ends blog's oldest only, and idle timeouts
/// (also after SESSION.NAMESPACE CONFIG) are each namespace's own.
#[test]
fn the_same_user_name_has_independent_caps_and_policies() {
    let server = server(&[
        "--namespace",
        "shop",
        "max-sessions-per-user",
        "1",
        "on-limit",
        "reject",
        "--namespace",
        "blog",
        "max-sessions-per-user",
        "2",
        "idle-timeout",
        "60",
    ]);
    let mut alice = login(&server, "alice");
    let mut bob = login(&server, "bob");
    let shop_carol = create(&mut alice, &["carol"]);
    let before = snapshot(&mut alice, &shop_carol);
    let refused = "-SESSIONLIMIT user has reached max-sessions-per-user (1)\r\n";
    expect(&mut alice, &["SESSION.CREATE", "carol"], refused);

    let first = create(&mut bob, &["carol"]);
    let second = create(&mut bob, &["carol"]);
    let third = create(&mut bob, &["carol"]);
    assert_eq!(
        field(&mut bob, &["SESSION.INFO", &first], "end_reason"),
        "evicted"
    );
    assert_eq!(
        texts(&mut bob, &["SESSION.LIST", "carol"]),
        [second, third.clone()]
    );
    assert_eq!(snapshot(&mut alice, &shop_carol), before);
    expect(&mut alice, &["SESSION.CREATE", "carol"], refused);

    let idle_timeout =
        |client: &mut RawClient, id: &str| field(client, &["SESSION.INFO", id], "idle_timeout");
    assert_eq!(idle_timeout(&mut alice, &shop_carol), "1800");
    assert_eq!(idle_timeout(&mut bob, &third), "60");
    let mut root = login(&server, "root");
    expect(
        &mut root,
        &["SESSION.NAMESPACE", "CONFIG", "blog", "idle-timeout", "90"],
        "+OK\r\n",
    );
    let later = create(&mut bob, &["dave"]);
    assert_eq!(idle_timeout(&mut bob, &later), "90");
    expect(&mut alice, &["SESSION.END", &shop_carol], ":1\r\n");
    let shop_later = create(&mut alice, &["carol"]);
    assert_eq!(idle_timeout(&mut alice, &shop_later), "1800");
    assert_eq!(int(&mut bob, &["SESSION.COUNT", "carol"]), 2);
}

/// An admin sees the sessions of the namespace it uses, and SESSION.NAMESPACE USE changes
/// which: shop's in shop, blog's in blog, its own again back in default.
#[test]
fn an_admin_sees_the_sessions_of_the_namespace_it_uses() {
    let server = server(&[]);
    let mut alice = login(&server, "alice");
    let mut bob = login(&server, "bob");
    let mut root = login(&server, "root");
    let in_shop = create(&mut alice, &["carol", "DATA", "where", "shop"]);
    let in_blog = create(&mut bob, &["carol", "DATA", "where", "blog"]);
    let in_default = create(&mut root, &["carol", "DATA", "where", "default"]);
    let sessions = [
        ("shop", &in_shop),
        ("blog", &in_blog),
        ("default", &in_default),
    ];
    for (namespace, own) in sessions {
        expect(
            &mut root,
            &["SESSION.NAMESPACE", "USE", namespace],
            "+OK\r\n",
        );
        for (home, id) in sessions {
            let reply = call(&mut root, &["SESSION.GET", id, "where"]);
            let seen = reply.items.first().map(Frame::text);
            let expected = (home == namespace).then(|| home.to_string());
            assert_eq!(seen, expected, "GET of {home}'s session in {namespace}");
        }
        assert_eq!(int(&mut root, &["SESSION.COUNT"]), 1, "in {namespace}");
        assert_eq!(
            texts(&mut root, &["SESSION.LIST", "carol"]),
            std::slice::from_ref(own),
            "in {namespace}"
        );
    }
}

/// DROP discards a namespace's sessions: one re-created under the same name has none, cannot
/// reach the old ids, and hears none of their events (an old session due to expire first).
#[test]
fn a_dropped_namespace_takes_its_sessions_with_it() {
    let server = server(&[]);
    let mut alice = login(&server, "alice");
    let mut root = login(&server, "root");
    let expiring = create(&mut alice, &["carol", "IDLE", "1"]);
    let ended = create(&mut alice, &["carol"]);
    expect(&mut alice, &["SESSION.END", &ended], ":1\r\n");
    expect(&mut root, &["SESSION.NAMESPACE", "DROP", "shop"], "+OK\r\n");
    alice.expect_closed();
    expect(
        &mut root,
        &["SESSION.NAMESPACE", "CREATE", "shop"],
        "+OK\r\n",
    );

    let mut watcher = login(&server, "alice");
    subscribe(&mut watcher, "PSUBSCRIBE", &["__session@*".to_string()]);
    let mut alice = login(&server, "alice");
    assert_eq!(int(&mut alice, &["SESSION.COUNT"]), 0);
    assert_eq!(int(&mut alice, &["SESSION.COUNT", "carol"]), 0);
    assert_eq!(
        texts(&mut alice, &["SESSION.LIST", "carol"]),
        Vec::<String>::new()
    );
    assert_eq!(field(&mut alice, &["SESSION.STATS"], "created_total"), "0");
    assert_eq!(field(&mut alice, &["SESSION.STATS"], "recoverable"), "0");
    let info = ["SESSION.NAMESPACE", "INFO", "shop"];
    assert_eq!(field(&mut root, &info, "sessions_active"), "0");
    for args in [
        ["SESSION.GET", &expiring],
        ["SESSION.INFO", &expiring],
        ["SESSION.INFO", &ended],
        ["SESSION.RECOVER", &ended],
    ] {
        expect(&mut alice, &args, "$-1\r\n");
    }

    let fresh = create(&mut alice, &["carol", "IDLE", "1"]);
    expect_event(&mut watcher, "shop", "created", &fresh);
    expect_event(&mut watcher, "shop", "expired", &fresh);
}
