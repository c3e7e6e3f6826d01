//! Who a connection acts as: the default user and the `user` directives, and checking their
//! passwords.
//!
//! The default user's password is `requirepass`, which CONFIG SET may change, so it is read
//! from the configuration at each AUTH; named users are fixed at start-up.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use crate::config::{Config, NamespaceAccess};
use crate::store::DEFAULT_NAMESPACE;

/// The user `requirepass` protects, and every connection's user before AUTH.
pub const DEFAULT_USER: &str = "default";

/// What an unknown user name's password is compared against, so AUTH costs the same whether
/// the name exists or not.
const DUMMY_PASSWORD: &[u8] = b"sessiond-dummy-password-for-unknown-users";

/// A login and the namespaces it may use.
#[derive(Debug)]
pub struct User {
    name: String,
    access: NamespaceAccess,
}

impl User {
    /// The name AUTH takes and CLIENT LIST shows.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the user has `*`: every namespace, and creating, reconfiguring and dropping
    /// them, and the operator commands (CONFIG, CLIENT LIST/KILL, DEBUG).
    pub fn is_admin(&self) -> bool {
        matches!(self.access, NamespaceAccess::All)
    }

    /// Whether the user may work in the namespace called `namespace`.
    pub fn may_use(&self, namespace: &str) -> bool {
        match &self.access {
            NamespaceAccess::All => true,
            NamespaceAccess::List(list) => list.iter().any(|name| name == namespace),
        }
    }

    /// Where AUTH puts the user: its first namespace, or `default` for a `*` user.
    pub fn home(&self) -> &str {
        match &self.access {
            NamespaceAccess::All => DEFAULT_NAMESPACE,
            NamespaceAccess::List(list) => list.first().map_or(DEFAULT_NAMESPACE, String::as_str),
        }
    }
}

/// A named user and its password.
#[derive(Debug)]
struct Login {
    user: Arc<User>,
    password: String,
}

/// Every user the server knows.
#[derive(Debug)]
pub struct Users {
    default: Arc<User>,
    named: HashMap<String, Login>,
}

impl Users {
    /// The default user (`*`, like Redis's all-powerful default user) plus every `user`
    /// directive of `config`.
    pub fn from_config(config: &Config) -> Users {
        let default = Arc::new(User {
            name: DEFAULT_USER.into(),
            access: NamespaceAccess::All,
        });
        let named = config
            .users
            .iter()
            .map(|spec| {
                let user = Arc::new(User {
                    name: spec.name.clone(),
                    access: spec.namespaces.clone(),
                });
                let password = spec.password.clone();
                (spec.name.clone(), Login { user, password })
            })
            .collect();
        Users { default, named }
    }

    /// The default user.
    pub fn default_user(&self) -> &Arc<User> {
        &self.default
    }

    /// Whether a user of this name exists (the default user included).
    pub fn exists(&self, name: &str) -> bool {
        name == DEFAULT_USER || self.named.contains_key(name)
    }

    /// The named user `name` if `password` is its password. An unknown name costs the same
    /// comparison as a known one, so timing does not tell which names exist.
    pub fn verify(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let login = std::str::from_utf8(name)
            .ok()
            .and_then(|name| self.named.get(name));
        let expected = login.map_or(DUMMY_PASSWORD, |login| login.password.as_bytes());
        let matches = black_box(constant_time_eq(expected, password));
        login.filter(|_| matches).map(|login| login.user.clone())
    }
}

/// Compares secrets in time that depends only on the length of `given`, not on where or
/// whether they differ.
pub fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut difference = expected.len() ^ given.len();
    for (i, byte) in given.iter().enumerate() {
        difference |= usize::from(
            expected
                .get(i % expected.len().max(1))
                .copied()
                .unwrap_or(0)
                ^ byte,
        );
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UserSpec;

    fn users() -> Users {
        let config = Config {
            users: vec![
                UserSpec {
                    name: "shop".into(),
                    password: "pw".into(),
                    namespaces: NamespaceAccess::List(vec!["shop".into(), "blog".into()]),
                },
                UserSpec {
                    name: "admin".into(),
                    password: "root".into(),
                    namespaces: NamespaceAccess::All,
                },
            ],
            ..Config::default()
        };
        Users::from_config(&config)
    }

    #[test]
    fn constant_time_eq_compares_fully() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"secret", b""));
    }

    #[test]
    fn verify_needs_the_right_name_and_password() {
        let users = users();
        let shop = users.verify(b"shop", b"pw").expect("right password");
        assert_eq!((shop.name(), shop.home()), ("shop", "shop"));
        assert!(shop.may_use("blog") && !shop.may_use("default") && !shop.is_admin());
        assert!(users.verify(b"shop", b"root").is_none());
        assert!(users.verify(b"nobody", DUMMY_PASSWORD).is_none());
        assert!(users.verify(b"\xff", b"pw").is_none());
        let admin = users.verify(b"admin", b"root").expect("right password");
        assert!(admin.is_admin() && admin.may_use("anything"));
        assert_eq!(admin.home(), DEFAULT_NAMESPACE);
    }

    #[test]
    fn the_default_user_may_use_everything() {
        let users = users();
        assert!(users.default_user().is_admin());
        assert!(users.exists("default") && users.exists("shop") && !users.exists("nobody"));
    }
}
