//! sessiond: a session store server that speaks the Redis protocol.
//!
//! Where things are:
//! - [`server`]: the accept loop and the per-connection task (read → parse → execute → write).
//! - [`protocol`]: RESP framing, input limits, reply encoding.
//! - [`command`]: the command table (`command/table.rs`) and one module per command family.
//! - [`store`]: namespaces → databases → shards, values, the timing wheel and expiry driver.
//! - [`session`]: the SESSION.* data model: records, per-user index, policy, stats.
//! - [`pubsub`]: channels, patterns and keyspace notifications.
//! - [`config`]: directives, the config file and command line, CONFIG GET/SET.
//! - [`persistence`]: the append-only file: effects, journal, load, rewrite, check-aof.
//! - [`health`]: `sessiond ping`, the container health check.
//! - [`memory`]: memory used (jemalloc's count), as INFO and `maxmemory` see it.
//! - [`metrics`]: Prometheus metric names, the exporter and the once-a-second sampler.

pub mod command;
pub mod config;
pub mod glob;
pub mod health;
pub mod keyspace_events;
pub mod memory;
pub mod metrics;
pub mod persistence;
pub mod protocol;
pub mod pubsub;
pub mod server;
pub mod session;
pub mod split_args;
pub mod store;
