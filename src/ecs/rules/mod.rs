//! The mapping's rules as data: the tables (`tables`), the emitters
//! (`emitters`), and both indexed for lookup with the configuration
//! (`lookup`). Imports only `model` and `policy` below it.

pub(crate) mod emitters;
pub(crate) mod lookup;
pub(crate) mod tables;
