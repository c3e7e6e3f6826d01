//! Namespaces over the server's life: declared at start-up, then created, entered and dropped
//! at run time.
//!
//! Creating, entering and dropping are serialised by one lock, so SESSION.NAMESPACE DROP sees
//! every connection inside the namespace it removes (none can enter between the removal and
//! the disconnection of those inside), and two CREATEs of one name cannot both succeed.

use std::sync::Arc;

use super::{ClientState, ServerState};
use crate::config::{Config, NamespaceAccess};
use crate::session::Policy;
use crate::store::{DEFAULT_NAMESPACE, Namespace, Store};

/// Why a namespace could not be created, entered or dropped; `Display` is the text after
/// `ERR `.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum NamespaceError {
    /// No namespace has this name.
    #[error("no such namespace '{0}'")]
    NoSuch(String),
    /// CREATE of a name in use.
    #[error("namespace '{0}' already exists")]
    Exists(String),
    /// DROP of `default`, where every connection may return.
    #[error("the default namespace cannot be dropped")]
    DropDefault,
    /// DROP of the caller's own namespace.
    #[error("cannot drop the namespace in use by this connection")]
    InUse,
    /// A subscribed connection may not leave its namespace (see [`ClientState`]'s `enter`).
    #[error(
        "cannot change namespace while subscribed to channels or patterns; UNSUBSCRIBE and PUNSUBSCRIBE first"
    )]
    Subscribed,
}

/// Creates the namespaces of `namespace` directives with their policies, and those named in
/// `user` directives (default policy) that no directive declared.
pub fn declare_namespaces(store: &Store, config: &Config) {
    for spec in &config.namespaces {
        let namespace = store.create_namespace(&spec.name, Policy::default());
        let configured = namespace.update_policy(|policy| {
            spec.options
                .iter()
                .try_for_each(|(option, value)| policy.set(option, value))
        });
        if let Err(error) = configured {
            tracing::warn!("namespace '{}': {error}", spec.name);
        }
    }
    for user in &config.users {
        if let NamespaceAccess::List(names) = &user.namespaces {
            for name in names {
                store.create_namespace(name, Policy::default());
            }
        }
    }
}

impl ServerState {
    /// The namespace called `name`.
    pub fn namespace_named(&self, name: &str) -> Result<Arc<Namespace>, NamespaceError> {
        self.store
            .namespace(name)
            .ok_or_else(|| NamespaceError::NoSuch(name.into()))
    }

    /// Creates namespace `name` with `policy`.
    pub fn create_namespace(
        &self,
        name: &str,
        policy: Policy,
    ) -> Result<Arc<Namespace>, NamespaceError> {
        let _serialised = self.namespace_changes.lock();
        if self.store.namespace(name).is_some() {
            return Err(NamespaceError::Exists(name.into()));
        }
        Ok(self.store.create_namespace(name, policy))
    }

    /// Moves `client` into namespace `name`, database 0.
    pub fn enter_namespace(
        &self,
        client: &mut ClientState,
        name: &str,
    ) -> Result<(), NamespaceError> {
        let _serialised = self.namespace_changes.lock();
        client.enter(self.namespace_named(name)?)
    }

    /// Drops namespace `name` and its data, disconnecting the other connections inside it;
    /// `caller` may not be inside.
    pub fn drop_namespace(&self, name: &str, caller: &ClientState) -> Result<(), NamespaceError> {
        if name == DEFAULT_NAMESPACE {
            return Err(NamespaceError::DropDefault);
        }
        let _serialised = self.namespace_changes.lock();
        if caller.namespace().name() == name {
            return Err(NamespaceError::InUse);
        }
        let dropped = self
            .store
            .drop_namespace(name)
            .ok_or_else(|| NamespaceError::NoSuch(name.into()))?;
        for handle in self.clients.all() {
            if handle.info().namespace == dropped.id() {
                handle.kill();
            }
        }
        Ok(())
    }
}
