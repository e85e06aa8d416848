//! Streaming `transform --output proto` over a large request: each
//! resource goes through the library's walk on its own and is written out
//! as soon as it is done, and a resource holding more than
//! [`CHUNK_ITEMS`] items is cut, at the wire level, into resources of at
//! most that many items, each with the same resource and scope. So the CLI
//! holds the input and one chunk's output, whatever the request's size.
//! OTLP reads a resource sent as several `Resource*` entries as the same
//! resource; the items, their order and their document ids are unchanged.

use cowork_ecs::otlp::wire::{self, Payload, tag};

/// Items per chunk.
pub const CHUNK_ITEMS: usize = 10_000;

/// One request to transform: a top-level field as it came, or a chunk
/// built from a resource cut in pieces.
pub enum Part<'a> {
    /// Bytes of a whole request (one top-level field as it came).
    Whole(&'a [u8]),
    /// A request built for one chunk.
    Built(Vec<u8>),
}

impl Part<'_> {
    /// The request's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Part::Whole(b) => b,
            Part::Built(b) => b,
        }
    }
}

/// A resource's fields: those other than its scopes (copied into every
/// chunk), and its scopes, each as its fields other than items and its
/// items (every field as it came, key and length included).
struct Split<'a> {
    head: Vec<&'a [u8]>,
    scopes: Vec<Scope<'a>>,
}

/// A scope's fields other than its items, and its items.
type Scope<'a> = (Vec<&'a [u8]>, Vec<&'a [u8]>);

fn split(resource: &[u8]) -> Option<Split<'_>> {
    let mut s = Split {
        head: Vec::new(),
        scopes: Vec::new(),
    };
    for f in wire::fields(resource) {
        let f = f.ok()?;
        match (f.tag, f.payload) {
            (tag::RESOURCE_ITEMS_SCOPES, Payload::Bytes(scope)) => {
                let (mut head, mut items) = (Vec::new(), Vec::new());
                for g in wire::fields(scope) {
                    let g = g.ok()?;
                    match (g.tag, g.payload) {
                        (tag::SCOPE_ITEMS_ITEMS, Payload::Bytes(_)) => items.push(g.raw),
                        _ => head.push(g.raw),
                    }
                }
                s.scopes.push((head, items));
            }
            _ => s.head.push(f.raw),
        }
    }
    Some(s)
}

/// The request holding one resource: `head`, and one scope of `scope_head`
/// and `items`.
fn chunk(head: &[&[u8]], scope_head: &[&[u8]], items: &[&[u8]]) -> Vec<u8> {
    let mut scope = Vec::new();
    scope_head
        .iter()
        .chain(items)
        .for_each(|f| scope.extend_from_slice(f));
    let mut resource = Vec::new();
    head.iter().for_each(|f| resource.extend_from_slice(f));
    wire::put_bytes(&mut resource, tag::RESOURCE_ITEMS_SCOPES, &scope);
    let mut request = Vec::new();
    wire::put_bytes(&mut request, tag::REQUEST_RESOURCES, &resource);
    request
}

/// Calls `each` with the parts of `request`, in order: each top-level
/// field whole, except a resource with more than [`CHUNK_ITEMS`] items,
/// which comes as chunks. Returns `None` (having called nothing) when the
/// request is not protobuf down to its items: the caller then transforms
/// it whole, so that the library reports what is wrong.
pub fn for_each<'a>(
    request: &'a [u8],
    mut each: impl FnMut(Part<'a>) -> Result<(), String>,
) -> Option<Result<(), String>> {
    let mut parts = Vec::new();
    for f in wire::fields(request) {
        let f = f.ok()?;
        let big = match (f.tag, f.payload) {
            (tag::REQUEST_RESOURCES, Payload::Bytes(resource)) => {
                let s = split(resource)?;
                let items: usize = s.scopes.iter().map(|(_, items)| items.len()).sum();
                (items > CHUNK_ITEMS).then_some(s)
            }
            _ => None,
        };
        parts.push((f.raw, big));
    }
    for (raw, big) in parts {
        let result = match big {
            None => each(Part::Whole(raw)),
            Some(s) => (s.scopes.iter()).try_for_each(|(scope_head, items)| {
                let mut chunks = items.chunks(CHUNK_ITEMS).peekable();
                if chunks.peek().is_none() {
                    return each(Part::Built(chunk(&s.head, scope_head, &[])));
                }
                chunks.try_for_each(|c| each(Part::Built(chunk(&s.head, scope_head, c))))
            }),
        };
        if let Err(e) = result {
            return Some(Err(e));
        }
    }
    Some(Ok(()))
}
