//! What the gateway decides whatever a sender writes, one concern per
//! module: the content and identity policy (`content`), routing and
//! tenancy (`routing`), the shape limits of Elasticsearch (`bounds`), and
//! which document an item becomes (`identity`). Imports only `model`.

pub(crate) mod bounds;
pub(crate) mod content;
pub(crate) mod identity;
pub(crate) mod routing;
