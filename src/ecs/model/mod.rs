//! The attribute model every rule reads and writes: values as read from
//! the wire and as written (`value`), attributes and the indexed output
//! list (`attrs`). Imports nothing else of `ecs`.

pub(crate) mod attrs;
pub(crate) mod value;
