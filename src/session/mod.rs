//! Sessions: server-generated ids, idle and absolute deadlines, per-user caps, end, rotate,
//! recover, statistics and lifecycle events. Each namespace owns one set.

pub mod policy;

pub use policy::Policy;
