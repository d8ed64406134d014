//! Locks that survive a panic.
//!
//! A `std::sync::Mutex` is poisoned when a thread panics while holding it.
//! Stepwise's shared state (collected output, event listeners, masks) stays
//! usable after such a panic — a half-written log line is better than a
//! second panic in the thread reporting the first — so every lock in the
//! workspace is taken through [`lock`], which ignores the poison.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `mutex`, and still returns its guard when a panicking thread
/// poisoned it.
///
/// ```
/// use std::sync::Mutex;
///
/// let lines = Mutex::new(vec!["one"]);
/// step_core::sync::lock(&lines).push("two");
/// assert_eq!(lines.lock().unwrap().len(), 2);
/// ```
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes `rw` for reading, ignoring poison like [`lock`].
pub fn read<T: ?Sized>(rw: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    rw.read().unwrap_or_else(PoisonError::into_inner)
}

/// Takes `rw` for writing, ignoring poison like [`lock`].
pub fn write<T: ?Sized>(rw: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    rw.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_poisoned_lock_still_gives_its_value() {
        let shared = Arc::new(Mutex::new(1));
        let poisoner = shared.clone();
        let joined = std::thread::spawn(move || {
            let mut guard = poisoner.lock().unwrap_or_else(|p| p.into_inner());
            *guard = 2;
            panic!("poison the lock");
        })
        .join();
        assert!(joined.is_err(), "the thread panicked");
        assert!(shared.is_poisoned());
        let mut guard = lock(&shared);
        assert_eq!(*guard, 2, "the write before the panic is kept");
        *guard = 3;
        drop(guard);
        assert_eq!(*lock(&shared), 3);
    }

    #[test]
    fn a_poisoned_rwlock_can_still_be_read_and_written() {
        let shared = Arc::new(RwLock::new(String::from("a")));
        let poisoner = shared.clone();
        let joined = std::thread::spawn(move || {
            let _guard = poisoner.write().unwrap_or_else(|p| p.into_inner());
            panic!("poison the lock");
        })
        .join();
        assert!(joined.is_err() && shared.is_poisoned());
        write(&shared).push('b');
        assert_eq!(*read(&shared), "ab");
    }
}
