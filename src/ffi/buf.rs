//! Byte buffers crossing the boundary.

use super::boundary::Failure;

/// A byte buffer allocated by this library and owned by the caller until it
/// is passed to `cowork_ecs_buf_free` (never to `free()`).
///
/// - `data`: the first byte, or NULL when `len` is 0 and nothing was allocated.
/// - `len`: the number of bytes (the allocation's exact size).
#[repr(C)]
#[derive(Debug)]
#[allow(non_camel_case_types)]
pub struct cowork_ecs_buf {
    /// First byte, or NULL.
    pub data: *mut u8,
    /// Length in bytes.
    pub len: usize,
}

impl cowork_ecs_buf {
    /// `{NULL, 0}`.
    pub(crate) fn empty() -> Self {
        cowork_ecs_buf {
            data: std::ptr::null_mut(),
            len: 0,
        }
    }

    /// Hands a vector to the caller as a boxed slice (len == capacity, so
    /// freeing needs only the pointer and the length).
    pub(crate) fn from_vec(bytes: Vec<u8>) -> Self {
        if bytes.is_empty() {
            return Self::empty();
        }
        let boxed: Box<[u8]> = bytes.into_boxed_slice();
        let len = boxed.len();
        cowork_ecs_buf {
            data: Box::into_raw(boxed).cast::<u8>(),
            len,
        }
    }

    /// The bytes, for tests.
    ///
    /// # Safety
    /// `self` came from [`Self::from_vec`] and was not freed.
    #[cfg(test)]
    pub(crate) unsafe fn as_slice(&self) -> &[u8] {
        if self.data.is_null() {
            return &[];
        }
        // SAFETY: from_vec made `data` point to `len` initialized bytes.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }

    /// Releases the allocation.
    ///
    /// # Safety
    /// `self` came from [`Self::from_vec`] and was not freed yet, or is `{NULL, _}`.
    pub(crate) unsafe fn free(self) {
        if self.data.is_null() {
            return;
        }
        let slice = std::ptr::slice_from_raw_parts_mut(self.data, self.len);
        // SAFETY: `slice` is exactly the boxed slice leaked by from_vec.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// Borrows a caller's input buffer. `(NULL, 0)` is the empty slice.
///
/// # Safety
/// `ptr` points to `len` readable bytes that stay valid and unchanged for the
/// call, or is NULL.
pub(crate) unsafe fn input_slice<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Failure::NullParameter("input buffer"))
        };
    }
    // SAFETY: non-null, and the caller guarantees `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}
