//! The opaque transformer handle.

use super::boundary::Failure;
use crate::ecs::Transformer;

/// Opaque handle to an immutable, thread-safe transformer. C and Go see only
/// a forward declaration; the layout is Rust's to change.
#[allow(non_camel_case_types)]
pub struct cowork_ecs_transformer {
    _private: [u8; 0],
}

/// Leaks a boxed transformer as a handle.
pub(crate) fn into_raw(t: Transformer) -> *const cowork_ecs_transformer {
    Box::into_raw(Box::new(t)).cast_const().cast()
}

/// Borrows the transformer behind a handle.
///
/// # Safety
/// `ptr` is NULL or a live handle from [`into_raw`].
pub(crate) unsafe fn try_ref<'a>(
    ptr: *const cowork_ecs_transformer,
) -> Result<&'a Transformer, Failure> {
    // SAFETY: a non-null handle points to a live Transformer (into_raw).
    unsafe { ptr.cast::<Transformer>().as_ref() }.ok_or(Failure::NullParameter("transformer"))
}

/// Drops the transformer behind a handle; NULL does nothing.
///
/// # Safety
/// `ptr` is NULL or a live handle from [`into_raw`], not used afterwards.
pub(crate) unsafe fn free(ptr: *const cowork_ecs_transformer) {
    if !ptr.is_null() {
        // SAFETY: the handle was made by Box::into_raw in into_raw.
        drop(unsafe { Box::from_raw(ptr.cast::<Transformer>().cast_mut()) });
    }
}
