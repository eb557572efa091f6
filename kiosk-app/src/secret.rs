//! Personal data and PINs in memory: zeroised on drop, never printable.
//!
//! `Debug` and `Display` print `***`, so a value can be put in a log line or an error by
//! mistake without leaking. Read access is explicit through [`Secret::expose`].

use zeroize::Zeroize;

/// A value zeroised on drop whose `Debug` prints `***`.
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The only way to read the value; grep for it when auditing.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// The value, mutable.
    pub fn expose_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl<T: Zeroize> std::fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A secret string.
pub type SecretString = Secret<String>;

/// A 4-digit PIN, checked locally so that no attempt is wasted on a value the card would
/// reject anyway. An empty PIN cannot exist: an empty VERIFY is only ever a tries-left query.
#[derive(Debug, Clone)]
pub struct Pin(Secret<Vec<u8>>);

/// A PIN that is not four ASCII digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the PIN must be exactly 4 digits")]
pub struct PinFormatError;

impl Pin {
    /// A PIN of exactly four ASCII digits.
    pub fn new_4_digits(digits: &[u8]) -> Result<Self, PinFormatError> {
        if digits.len() == 4 && digits.iter().all(u8::is_ascii_digit) {
            Ok(Pin(Secret::new(digits.to_vec())))
        } else {
            Err(PinFormatError)
        }
    }

    /// The digits (for VERIFY only).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = SecretString::new("山田　太郎".into());
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        let p = Pin::new_4_digits(b"1234").unwrap();
        assert!(!format!("{p:?}").contains("49"), "{p:?}");
        assert!(!format!("{p:?}").contains("1234"));
    }

    #[test]
    fn pin_rules() {
        assert!(Pin::new_4_digits(b"").is_err());
        assert!(Pin::new_4_digits(b"123").is_err());
        assert!(Pin::new_4_digits(b"12345").is_err());
        assert!(Pin::new_4_digits(b"12a4").is_err());
        assert_eq!(Pin::new_4_digits(b"0000").unwrap().as_bytes(), b"0000");
    }

    /// Dropping a secret zeroises it in place: the bytes where it lived are zero afterwards.
    #[test]
    fn zeroised_on_drop() {
        let mut slot = std::mem::MaybeUninit::new(Secret::new(*b"1234"));
        // SAFETY: the slot holds an initialised secret, dropped exactly once here; its bytes
        // (a plain array) stay readable after the drop.
        let after = unsafe {
            std::ptr::drop_in_place(slot.as_mut_ptr());
            std::ptr::read(slot.as_ptr().cast::<[u8; 4]>())
        };
        assert_eq!(after, [0; 4]);
    }

    /// Whatever the type, dropping the secret calls its `zeroize` (so a `String` or `Vec`
    /// is wiped before its buffer is freed).
    #[test]
    fn drop_calls_zeroize() {
        use std::cell::Cell;
        use std::rc::Rc;
        struct Probe(Rc<Cell<u32>>);
        impl Zeroize for Probe {
            fn zeroize(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let calls = Rc::new(Cell::new(0));
        let s = Secret::new(Probe(calls.clone()));
        assert_eq!(calls.get(), 0);
        drop(s);
        assert_eq!(calls.get(), 1);
    }
}
