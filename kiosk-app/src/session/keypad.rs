//! The PIN keypad's buffer, shared by the card's PIN and the staff PIN: digits up to a
//! length, kept as a zeroising secret and handed over once.

use crate::secret::Secret;

pub struct Keypad {
    digits: Secret<Vec<u8>>,
    max: usize,
}

impl Keypad {
    pub fn new(max: usize) -> Self {
        Keypad {
            digits: Secret::new(Vec::with_capacity(max)),
            max,
        }
    }

    /// Takes digit `d` (ASCII into the buffer); false when it is no digit or the PIN is full.
    pub fn press(&mut self, d: u8) -> bool {
        if d > 9 || self.digits.expose().len() >= self.max {
            return false;
        }
        self.digits.expose_mut().push(b'0' + d);
        true
    }

    pub fn delete(&mut self) {
        self.digits.expose_mut().pop();
    }

    pub fn len(&self) -> usize {
        self.digits.expose().len()
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn is_full(&self) -> bool {
        self.len() == self.max
    }

    pub fn digits(&self) -> &[u8] {
        self.digits.expose()
    }

    /// Hands the digits over and starts empty again.
    pub fn take(&mut self) -> Secret<Vec<u8>> {
        std::mem::replace(&mut self.digits, Secret::new(Vec::with_capacity(self.max)))
    }
}
